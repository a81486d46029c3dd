"""The AI Feynman laws (main table of 100, bonus table of 20) for formula-discovery benchmarks.

The laws, their ids and their sampling ranges come from the AI Feynman database
(Udrescu & Tegmark 2020, "AI Feynman: a physics-inspired method for symbolic
regression", Science Advances 6(16), eaay2631; tables ``FeynmanEquations.csv`` and
``BonusEquations.csv``), the 120 ground-truth problems of SRBench (La Cava et al. 2021).
Each variable is sampled uniformly on the interval the table gives for it
(:attr:`Law.ranges`, the *positive* ranges: none goes below 0, and all start at 1 or
above except seven angles on ``[0, 5]`` or ``[0, 6]`` and the ``n``/``alpha`` on
``[0, 1]`` of I.26.2, II.11.27 and II.11.28).

Signed ranges. Where the KAN paper (Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks",
its Feynman section; the ranges of pykan's ``kan/feynman.py``) samples some variable of
a law over negative values (charges, fields, velocities, positions, ...: mostly
``[-1, 1]``), the law also carries that paper's ranges for *all* its variables
(:attr:`Law.signed`; 35 laws, all of the main table: the KAN paper samples no bonus law
over negative values). Laws where the KAN paper keeps every variable non-negative have
no signed variant (``signed is None``). :attr:`Law.signed_variables` flags the variables
that the signed ranges let go negative.

Differences from the tables, none of which changes a law or a range:

* variable names that clash with SymPy names are renamed: ``gamma`` -> ``gam``,
  ``beta`` -> ``bet``, ``I`` (II.13.17's current) -> ``I_cur`` (``lambd`` and ``Ef``
  are the table's own spellings);
* ``arcsin``/``arccos``/``ln`` are written ``asin``/``acos``/``log``;
* I.12.2 and I.12.4 are written with ``r**2`` where the table has ``r/r**3``;
* the table's file name ``I.15.1`` is written ``I.15.10`` (SRBench's ``feynman_I_15_10``);
  the bonus laws keep the table's file names ``test_1`` ... ``test_20``;
* the minus signs of bonus laws test_9, test_14 and test_19 (shown as ``~`` in some
  copies of the table) are written ``-``;
* ``1/2*...`` is kept as the table writes it (SymPy parses it as ``Rational(1, 2)``).

The table was transcribed from a copy of ``FeynmanEquations.csv`` and checked against a
second copy (formulas) and an earlier, independent transcription of the 47 laws with at
most four inputs (ranges); the signed ranges were transcribed from pykan's
``kan/feynman.py``, mapping its variable names to the table's.

Development and test halves: :data:`DEV` and :data:`TEST` split the 120 laws once, with
a fixed seed, before any tuning (see :func:`split_laws`).

This module does not import skkan. Run it (``python benchmarks/feynman.py``) to check
every law: names parse to plain symbols, 2,000 sampled rows give finite targets on both
kinds of ranges, and the recorded split is the seeded one.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sympy

__all__ = ["DEV", "LAWS", "RANGE_KINDS", "SPLIT_SEED", "TEST", "TOY", "Law", "law_expression", "sample", "split_laws"]

RANGE_KINDS = ("positive", "signed")


@dataclass(frozen=True)
class Law:
    """A law to rediscover: a name, a SymPy-parseable expression and input ranges.

    Parameters
    ----------
    name : str
        Feynman id, such as ``"I.12.2"`` (main table) or ``"test_3"`` (bonus table).
    expression : str
        The law, parseable by :func:`sympy.sympify`, in the variables of ``ranges``.
    ranges : dict of str to (float, float)
        Variable name -> ``(low, high)`` of its uniform sampling interval in the AI
        Feynman table, in the order of the variables (the column order of :func:`sample`).
    signed : dict of str to (float, float) or None, default=None
        The KAN paper's ranges for every variable (same keys and order as ``ranges``),
        given where it samples some variable over negative values; ``None`` otherwise.
    table : {"main", "bonus"}, default="main"
        The AI Feynman table the law comes from.
    title : str, default=""
        The bonus table's name of the law (such as ``"Compton Scattering"``).
    """

    name: str
    expression: str
    ranges: dict
    signed: dict = field(default=None)
    table: str = "main"
    title: str = ""

    @property
    def variables(self):
        """list of str: the variable names, in column order."""
        return list(self.ranges)

    @property
    def n_inputs(self):
        """int: the number of variables."""
        return len(self.ranges)

    @property
    def signed_variables(self):
        """list of str: variables whose signed range goes below zero (empty without one)."""
        return [name for name, (low, _high) in (self.signed or {}).items() if low < 0]

    def ranges_for(self, kind="positive"):
        """The sampling ranges of one kind.

        Parameters
        ----------
        kind : {"positive", "signed"}, default="positive"
            ``"positive"``: the AI Feynman ranges; ``"signed"``: the KAN paper's.

        Returns
        -------
        dict of str to (float, float) or None
            ``None`` for ``"signed"`` when the law has no signed variant.
        """
        if kind == "positive":
            return self.ranges
        if kind == "signed":
            return self.signed
        raise ValueError(f"unknown range kind {kind!r}; expected one of {RANGE_KINDS}")


def _law(name, expression, *ranges, signed=None, table="main", title=""):
    as_float = {var: (float(low), float(high)) for var, low, high in ranges}
    if signed is not None:
        signed = {var: (float(sympy.sympify(signed[var][0])), float(sympy.sympify(signed[var][1]))) for var in as_float}
    return Law(name, expression, as_float, signed, table, title)


#: The 120 AI Feynman laws, main table then bonus table, in the tables' order. ``signed``
#: holds the KAN paper's ranges (``"2*pi"`` is 2 pi) where it samples a variable below 0.
LAWS = [
    # ---- main table ----
    _law("I.6.2a", "exp(-theta**2/2)/sqrt(2*pi)", ("theta", 1, 3), signed={"theta": (-3, 3)}),
    _law("I.6.2", "exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)",
         ("sigma", 1, 3), ("theta", 1, 3),
         signed={"sigma": (0.5, 2), "theta": (-1, 1)}),
    _law("I.6.2b", "exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma)",
         ("sigma", 1, 3), ("theta", 1, 3), ("theta1", 1, 3),
         signed={"sigma": (0.5, 2), "theta": (-1.5, 1.5), "theta1": (-1.5, 1.5)}),
    _law("I.8.14", "sqrt((x2-x1)**2+(y2-y1)**2)",
         ("x1", 1, 5), ("x2", 1, 5), ("y1", 1, 5), ("y2", 1, 5),
         signed={"x1": (-1, 1), "x2": (-1, 1), "y1": (-1, 1), "y2": (-1, 1)}),
    _law("I.9.18", "G*m1*m2/((x2-x1)**2+(y2-y1)**2+(z2-z1)**2)",
         ("m1", 1, 2), ("m2", 1, 2), ("G", 1, 2), ("x1", 3, 4), ("x2", 1, 2), ("y1", 3, 4), ("y2", 1, 2), ("z1", 3, 4),
         ("z2", 1, 2),
         signed={"m1": (-1, 1), "m2": (-1, 1), "G": (-1, 1), "x1": (-1, -0.5), "x2": (0.5, 1), "y1": (-1, -0.5),
                 "y2": (0.5, 1), "z1": (-1, -0.5), "z2": (0.5, 1)}),
    _law("I.10.7", "m_0/sqrt(1-v**2/c**2)", ("m_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
    _law("I.11.19", "x1*y1+x2*y2+x3*y3",
         ("x1", 1, 5), ("x2", 1, 5), ("x3", 1, 5), ("y1", 1, 5), ("y2", 1, 5), ("y3", 1, 5),
         signed={"x1": (-1, 1), "x2": (-1, 1), "x3": (-1, 1), "y1": (-1, 1), "y2": (-1, 1), "y3": (-1, 1)}),
    _law("I.12.1", "mu*Nn", ("mu", 1, 5), ("Nn", 1, 5), signed={"mu": (-1, 1), "Nn": (-1, 1)}),
    _law("I.12.2", "q1*q2/(4*pi*epsilon*r**2)",
         ("q1", 1, 5), ("q2", 1, 5), ("epsilon", 1, 5), ("r", 1, 5),
         signed={"q1": (-1, 1), "q2": (-1, 1), "epsilon": (0.5, 2), "r": (0.5, 2)}),
    _law("I.12.4", "q1/(4*pi*epsilon*r**2)",
         ("q1", 1, 5), ("epsilon", 1, 5), ("r", 1, 5),
         signed={"q1": (-1, 1), "epsilon": (0.5, 2), "r": (0.5, 2)}),
    _law("I.12.5", "q2*Ef", ("q2", 1, 5), ("Ef", 1, 5), signed={"q2": (-1, 1), "Ef": (-1, 1)}),
    _law("I.12.11", "q*(Ef+B*v*sin(theta))",
         ("q", 1, 5), ("Ef", 1, 5), ("B", 1, 5), ("v", 1, 5), ("theta", 1, 5),
         signed={"q": (-1, 1), "Ef": (-1, 1), "B": (-1, 1), "v": (-1, 1), "theta": (0, "2*pi")}),
    _law("I.13.4", "1/2*m*(v**2+u**2+w**2)",
         ("m", 1, 5), ("v", 1, 5), ("u", 1, 5), ("w", 1, 5),
         signed={"m": (-1, 1), "v": (-1, 1), "u": (-1, 1), "w": (-1, 1)}),
    _law("I.13.12", "G*m1*m2*(1/r2-1/r1)", ("m1", 1, 5), ("m2", 1, 5), ("r1", 1, 5), ("r2", 1, 5), ("G", 1, 5)),
    _law("I.14.3", "m*g*z", ("m", 1, 5), ("g", 1, 5), ("z", 1, 5), signed={"m": (0, 1), "g": (0, 1), "z": (-1, 1)}),
    _law("I.14.4", "1/2*k_spring*x**2", ("k_spring", 1, 5), ("x", 1, 5), signed={"k_spring": (0, 1), "x": (-1, 1)}),
    _law("I.15.3x", "(x-u*t)/sqrt(1-u**2/c**2)",
         ("x", 5, 10), ("u", 1, 2), ("c", 3, 20), ("t", 1, 2),
         signed={"x": (-1, 1), "u": (-1, 1), "c": (1, 2), "t": (-1, 1)}),
    _law("I.15.3t", "(t-u*x/c**2)/sqrt(1-u**2/c**2)",
         ("x", 1, 5), ("c", 3, 10), ("u", 1, 2), ("t", 1, 5),
         signed={"x": (-1, 1), "c": (1, 2), "u": (-1, 1), "t": (-1, 1)}),
    _law("I.15.10", "m_0*v/sqrt(1-v**2/c**2)",
         ("m_0", 1, 5), ("v", 1, 2), ("c", 3, 10),
         signed={"m_0": (-1, 1), "v": (-0.9, 0.9), "c": (1.1, 2)}),
    _law("I.16.6", "(u+v)/(1+u*v/c**2)",
         ("c", 1, 5), ("v", 1, 5), ("u", 1, 5),
         signed={"c": (1, 2), "v": (-0.8, 0.8), "u": (-0.8, 0.8)}),
    _law("I.18.4", "(m1*r1+m2*r2)/(m1+m2)",
         ("m1", 1, 5), ("m2", 1, 5), ("r1", 1, 5), ("r2", 1, 5),
         signed={"m1": (0.5, 1), "m2": (0.5, 1), "r1": (-1, 1), "r2": (-1, 1)}),
    _law("I.18.12", "r*F*sin(theta)",
         ("r", 1, 5), ("F", 1, 5), ("theta", 0, 5),
         signed={"r": (-1, 1), "F": (-1, 1), "theta": (0, "2*pi")}),
    _law("I.18.14", "m*r*v*sin(theta)",
         ("m", 1, 5), ("r", 1, 5), ("v", 1, 5), ("theta", 1, 5),
         signed={"m": (-1, 1), "r": (-1, 1), "v": (-1, 1), "theta": (0, "2*pi")}),
    _law("I.24.6", "1/2*m*(omega**2+omega_0**2)*1/2*x**2",
         ("m", 1, 3), ("omega", 1, 3), ("omega_0", 1, 3), ("x", 1, 3),
         signed={"m": (0, 1), "omega": (-1, 1), "omega_0": (-1, 1), "x": (-1, 1)}),
    _law("I.25.13", "q/C", ("q", 1, 5), ("C", 1, 5), signed={"q": (-1, 1), "C": (0.5, 2)}),
    _law("I.26.2", "asin(n*sin(theta2))", ("n", 0, 1), ("theta2", 1, 5)),
    _law("I.27.6", "1/(1/d1+n/d2)", ("d1", 1, 5), ("d2", 1, 5), ("n", 1, 5)),
    _law("I.29.4", "omega/c", ("omega", 1, 10), ("c", 1, 10)),
    _law("I.29.16", "sqrt(x1**2+x2**2-2*x1*x2*cos(theta1-theta2))",
         ("x1", 1, 5), ("x2", 1, 5), ("theta1", 1, 5), ("theta2", 1, 5),
         signed={"x1": (-1, 1), "x2": (-1, 1), "theta1": (0, "2*pi"), "theta2": (0, "2*pi")}),
    _law("I.30.3", "Int_0*sin(n*theta/2)**2/sin(theta/2)**2", ("Int_0", 1, 5), ("theta", 1, 5), ("n", 1, 5)),
    _law("I.30.5", "asin(lambd/(n*d))",
         ("lambd", 1, 2), ("d", 2, 5), ("n", 1, 5),
         signed={"lambd": (-1, 1), "d": (1, 1.5), "n": (1, 1.5)}),
    _law("I.32.5", "q**2*a**2/(6*pi*epsilon*c**3)",
         ("q", 1, 5), ("a", 1, 5), ("epsilon", 1, 5), ("c", 1, 5),
         signed={"q": (-1, 1), "a": (-1, 1), "epsilon": (0.5, 2), "c": (0.5, 2)}),
    _law("I.32.17", "(1/2*epsilon*c*Ef**2)*(8*pi*r**2/3)*(omega**4/(omega**2-omega_0**2)**2)",
         ("epsilon", 1, 2), ("c", 1, 2), ("Ef", 1, 2), ("r", 1, 2), ("omega", 1, 2), ("omega_0", 3, 5),
         signed={"epsilon": (0, 1), "c": (0, 1), "Ef": (-1, 1), "r": (0, 1), "omega": (0, 1), "omega_0": (1, 2)}),
    _law("I.34.8", "q*v*B/p",
         ("q", 1, 5), ("v", 1, 5), ("B", 1, 5), ("p", 1, 5),
         signed={"q": (-1, 1), "v": (-1, 1), "B": (-1, 1), "p": (0.5, 2)}),
    _law("I.34.1", "omega_0/(1-v/c)", ("c", 3, 10), ("v", 1, 2), ("omega_0", 1, 5)),
    _law("I.34.14", "(1+v/c)/sqrt(1-v**2/c**2)*omega_0",
         ("c", 3, 10), ("v", 1, 2), ("omega_0", 1, 5),
         signed={"c": (1.1, 2), "v": (-0.9, 0.9), "omega_0": (0, 1)}),
    _law("I.34.27", "(h/(2*pi))*omega", ("omega", 1, 5), ("h", 1, 5), signed={"omega": (-1, 1), "h": (-1, 1)}),
    _law("I.37.4", "I1+I2+2*sqrt(I1*I2)*cos(delta)", ("I1", 1, 5), ("I2", 1, 5), ("delta", 1, 5)),
    _law("I.38.12", "4*pi*epsilon*(h/(2*pi))**2/(m*q**2)", ("m", 1, 5), ("q", 1, 5), ("h", 1, 5), ("epsilon", 1, 5)),
    _law("I.39.1", "3/2*pr*V", ("pr", 1, 5), ("V", 1, 5)),
    _law("I.39.11", "1/(gam-1)*pr*V", ("gam", 2, 5), ("pr", 1, 5), ("V", 1, 5)),
    _law("I.39.22", "n*kb*T/V", ("n", 1, 5), ("T", 1, 5), ("V", 1, 5), ("kb", 1, 5)),
    _law("I.40.1", "n_0*exp(-m*g*x/(kb*T))",
         ("n_0", 1, 5), ("m", 1, 5), ("x", 1, 5), ("T", 1, 5), ("g", 1, 5), ("kb", 1, 5),
         signed={"n_0": (0, 1), "m": (-1, 1), "x": (-1, 1), "T": (1, 2), "g": (-1, 1), "kb": (1, 2)}),
    _law("I.41.16", "h/(2*pi)*omega**3/(pi**2*c**2*(exp((h/(2*pi))*omega/(kb*T))-1))",
         ("omega", 1, 5), ("T", 1, 5), ("h", 1, 5), ("kb", 1, 5), ("c", 1, 5)),
    _law("I.43.16", "mu_drift*q*Volt/d", ("mu_drift", 1, 5), ("q", 1, 5), ("Volt", 1, 5), ("d", 1, 5)),
    _law("I.43.31", "mob*kb*T", ("mob", 1, 5), ("T", 1, 5), ("kb", 1, 5)),
    _law("I.43.43", "1/(gam-1)*kb*v/A", ("gam", 2, 5), ("kb", 1, 5), ("A", 1, 5), ("v", 1, 5)),
    _law("I.44.4", "n*kb*T*log(V2/V1)", ("n", 1, 5), ("kb", 1, 5), ("T", 1, 5), ("V1", 1, 5), ("V2", 1, 5)),
    _law("I.47.23", "sqrt(gam*pr/rho)", ("gam", 1, 5), ("pr", 1, 5), ("rho", 1, 5)),
    _law("I.48.2", "m*c**2/sqrt(1-v**2/c**2)",
         ("m", 1, 5), ("v", 1, 2), ("c", 3, 10),
         signed={"m": (0, 1), "v": (-0.9, 0.9), "c": (1.1, 2)}),
    _law("I.50.26", "x1*(cos(omega*t)+alpha*cos(omega*t)**2)",
         ("x1", 1, 3), ("omega", 1, 3), ("t", 1, 3), ("alpha", 1, 3)),
    _law("II.2.42", "kappa*(T2-T1)*A/d", ("kappa", 1, 5), ("T1", 1, 5), ("T2", 1, 5), ("A", 1, 5), ("d", 1, 5)),
    _law("II.3.24", "Pwr/(4*pi*r**2)", ("Pwr", 1, 5), ("r", 1, 5)),
    _law("II.4.23", "q/(4*pi*epsilon*r)", ("q", 1, 5), ("epsilon", 1, 5), ("r", 1, 5)),
    _law("II.6.11", "1/(4*pi*epsilon)*p_d*cos(theta)/r**2",
         ("epsilon", 1, 3), ("p_d", 1, 3), ("theta", 1, 3), ("r", 1, 3)),
    _law("II.6.15a", "p_d/(4*pi*epsilon)*3*z/r**5*sqrt(x**2+y**2)",
         ("epsilon", 1, 3), ("p_d", 1, 3), ("r", 1, 3), ("x", 1, 3), ("y", 1, 3), ("z", 1, 3)),
    _law("II.6.15b", "p_d/(4*pi*epsilon)*3*cos(theta)*sin(theta)/r**3",
         ("epsilon", 1, 3), ("p_d", 1, 3), ("theta", 1, 3), ("r", 1, 3)),
    _law("II.8.7", "3/5*q**2/(4*pi*epsilon*d)", ("q", 1, 5), ("epsilon", 1, 5), ("d", 1, 5)),
    _law("II.8.31", "epsilon*Ef**2/2", ("epsilon", 1, 5), ("Ef", 1, 5)),
    _law("II.10.9", "sigma_den/epsilon*1/(1+chi)", ("sigma_den", 1, 5), ("epsilon", 1, 5), ("chi", 1, 5)),
    _law("II.11.3", "q*Ef/(m*(omega_0**2-omega**2))",
         ("q", 1, 3), ("Ef", 1, 3), ("m", 1, 3), ("omega_0", 3, 5), ("omega", 1, 2)),
    _law("II.11.17", "n_0*(1+p_d*Ef*cos(theta)/(kb*T))",
         ("n_0", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("theta", 1, 3), ("p_d", 1, 3), ("Ef", 1, 3),
         signed={"n_0": (0, 1), "kb": (0.5, 2), "T": (0.5, 2), "theta": (0, "2*pi"), "p_d": (-1, 1), "Ef": (-1, 1)}),
    _law("II.11.20", "n_rho*p_d**2*Ef/(3*kb*T)",
         ("n_rho", 1, 5), ("p_d", 1, 5), ("Ef", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
    _law("II.11.27", "n*alpha/(1-(n*alpha/3))*epsilon*Ef",
         ("n", 0, 1), ("alpha", 0, 1), ("epsilon", 1, 2), ("Ef", 1, 2)),
    _law("II.11.28", "1+n*alpha/(1-(n*alpha/3))", ("n", 0, 1), ("alpha", 0, 1)),
    _law("II.13.17", "1/(4*pi*epsilon*c**2)*2*I_cur/r", ("epsilon", 1, 5), ("c", 1, 5), ("I_cur", 1, 5), ("r", 1, 5)),
    _law("II.13.23", "rho_c_0/sqrt(1-v**2/c**2)", ("rho_c_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
    _law("II.13.34", "rho_c_0*v/sqrt(1-v**2/c**2)", ("rho_c_0", 1, 5), ("v", 1, 2), ("c", 3, 10)),
    _law("II.15.4", "-mom*B*cos(theta)", ("mom", 1, 5), ("B", 1, 5), ("theta", 1, 5)),
    _law("II.15.5", "-p_d*Ef*cos(theta)", ("p_d", 1, 5), ("Ef", 1, 5), ("theta", 1, 5)),
    _law("II.21.32", "q/(4*pi*epsilon*r*(1-v/c))",
         ("q", 1, 5), ("epsilon", 1, 5), ("r", 1, 5), ("v", 1, 2), ("c", 3, 10)),
    _law("II.24.17", "sqrt(omega**2/c**2-pi**2/d**2)", ("omega", 4, 6), ("c", 1, 2), ("d", 2, 4)),
    _law("II.27.16", "epsilon*c*Ef**2",
         ("epsilon", 1, 5), ("c", 1, 5), ("Ef", 1, 5),
         signed={"epsilon": (0, 1), "c": (0, 1), "Ef": (-1, 1)}),
    _law("II.27.18", "epsilon*Ef**2", ("epsilon", 1, 5), ("Ef", 1, 5), signed={"epsilon": (0, 1), "Ef": (-1, 1)}),
    _law("II.34.2a", "q*v/(2*pi*r)", ("q", 1, 5), ("v", 1, 5), ("r", 1, 5)),
    _law("II.34.2", "q*v*r/2", ("q", 1, 5), ("v", 1, 5), ("r", 1, 5)),
    _law("II.34.11", "g_*q*B/(2*m)", ("g_", 1, 5), ("q", 1, 5), ("B", 1, 5), ("m", 1, 5)),
    _law("II.34.29a", "q*h/(4*pi*m)", ("q", 1, 5), ("h", 1, 5), ("m", 1, 5)),
    _law("II.34.29b", "g_*mom*B*Jz/(h/(2*pi))", ("g_", 1, 5), ("h", 1, 5), ("Jz", 1, 5), ("mom", 1, 5), ("B", 1, 5)),
    _law("II.35.18", "n_0/(exp(mom*B/(kb*T))+exp(-mom*B/(kb*T)))",
         ("n_0", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("mom", 1, 3), ("B", 1, 3)),
    _law("II.35.21", "n_rho*mom*tanh(mom*B/(kb*T))",
         ("n_rho", 1, 5), ("mom", 1, 5), ("B", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
    _law("II.36.38", "mom*H/(kb*T)+(mom*alpha)/(epsilon*c**2*kb*T)*M",
         ("mom", 1, 3), ("H", 1, 3), ("kb", 1, 3), ("T", 1, 3), ("alpha", 1, 3), ("epsilon", 1, 3), ("c", 1, 3),
         ("M", 1, 3)),
    _law("II.37.1", "mom*(1+chi)*B", ("mom", 1, 5), ("B", 1, 5), ("chi", 1, 5)),
    _law("II.38.3", "Y*A*x/d", ("Y", 1, 5), ("A", 1, 5), ("d", 1, 5), ("x", 1, 5)),
    _law("II.38.14", "Y/(2*(1+sigma))", ("Y", 1, 5), ("sigma", 1, 5)),
    _law("III.4.32", "1/(exp((h/(2*pi))*omega/(kb*T))-1)", ("h", 1, 5), ("omega", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
    _law("III.4.33", "(h/(2*pi))*omega/(exp((h/(2*pi))*omega/(kb*T))-1)",
         ("h", 1, 5), ("omega", 1, 5), ("kb", 1, 5), ("T", 1, 5)),
    _law("III.7.38", "2*mom*B/(h/(2*pi))", ("mom", 1, 5), ("B", 1, 5), ("h", 1, 5)),
    _law("III.8.54", "sin(E_n*t/(h/(2*pi)))**2", ("E_n", 1, 2), ("t", 1, 2), ("h", 1, 4)),
    _law("III.9.52", "(p_d*Ef*t/(h/(2*pi)))*sin((omega-omega_0)*t/2)**2/((omega-omega_0)*t/2)**2",
         ("p_d", 1, 3), ("Ef", 1, 3), ("t", 1, 3), ("h", 1, 3), ("omega", 1, 5), ("omega_0", 1, 5)),
    _law("III.10.19", "mom*sqrt(Bx**2+By**2+Bz**2)", ("mom", 1, 5), ("Bx", 1, 5), ("By", 1, 5), ("Bz", 1, 5)),
    _law("III.12.43", "n*(h/(2*pi))", ("n", 1, 5), ("h", 1, 5)),
    _law("III.13.18", "2*E_n*d**2*k/(h/(2*pi))", ("E_n", 1, 5), ("d", 1, 5), ("k", 1, 5), ("h", 1, 5)),
    _law("III.14.14", "I_0*(exp(q*Volt/(kb*T))-1)",
         ("I_0", 1, 5), ("q", 1, 2), ("Volt", 1, 2), ("kb", 1, 2), ("T", 1, 2)),
    _law("III.15.12", "2*U*(1-cos(k*d))", ("U", 1, 5), ("k", 1, 5), ("d", 1, 5)),
    _law("III.15.14", "(h/(2*pi))**2/(2*E_n*d**2)", ("h", 1, 5), ("E_n", 1, 5), ("d", 1, 5)),
    _law("III.15.27", "2*pi*alpha/(n*d)", ("alpha", 1, 5), ("n", 1, 5), ("d", 1, 5)),
    _law("III.17.37", "bet*(1+alpha*cos(theta))", ("bet", 1, 5), ("alpha", 1, 5), ("theta", 1, 5)),
    _law("III.19.51", "-m*q**4/(2*(4*pi*epsilon)**2*(h/(2*pi))**2)*(1/n**2)",
         ("m", 1, 5), ("q", 1, 5), ("h", 1, 5), ("n", 1, 5), ("epsilon", 1, 5)),
    _law("III.21.20", "-rho_c_0*q*A_vec/m", ("rho_c_0", 1, 5), ("q", 1, 5), ("A_vec", 1, 5), ("m", 1, 5)),
    # ---- bonus table ----
    _law("test_1", "(Z_1*Z_2*alpha*hbar*c/(4*E_n*sin(theta/2)**2))**2",
         ("Z_1", 1, 2), ("Z_2", 1, 2), ("alpha", 1, 2), ("hbar", 1, 2), ("c", 1, 2), ("E_n", 1, 3), ("theta", 1, 3),
         table="bonus", title="Rutherford scattering"),
    _law("test_2", "m*k_G/L**2*(1+sqrt(1+2*E_n*L**2/(m*k_G**2))*cos(theta1-theta2))",
         ("m", 1, 3), ("k_G", 1, 3), ("L", 1, 3), ("E_n", 1, 3), ("theta1", 0, 6), ("theta2", 0, 6),
         table="bonus", title="3.55 Goldstein"),
    _law("test_3", "d*(1-alpha**2)/(1+alpha*cos(theta1-theta2))",
         ("d", 1, 3), ("alpha", 2, 4), ("theta1", 4, 5), ("theta2", 4, 5),
         table="bonus", title="3.64 Goldstein"),
    _law("test_4", "sqrt(2/m*(E_n-U-L**2/(2*m*r**2)))",
         ("m", 1, 3), ("E_n", 8, 12), ("U", 1, 3), ("L", 1, 3), ("r", 1, 3),
         table="bonus", title="3.16 Goldstein"),
    _law("test_5", "2*pi*d**(3/2)/sqrt(G*(m1+m2))",
         ("d", 1, 3), ("G", 1, 3), ("m1", 1, 3), ("m2", 1, 3),
         table="bonus", title="3.74 Goldstein"),
    _law("test_6", "sqrt(1+2*epsilon**2*E_n*L**2/(m*(Z_1*Z_2*q**2)**2))",
         ("epsilon", 1, 3), ("L", 1, 3), ("m", 1, 3), ("Z_1", 1, 3), ("Z_2", 1, 3), ("q", 1, 3), ("E_n", 1, 3),
         table="bonus", title="3.99 Goldstein"),
    _law("test_7", "sqrt(8*pi*G*rho/3-alpha*c**2/d**2)",
         ("G", 1, 3), ("rho", 1, 3), ("alpha", 1, 2), ("c", 1, 2), ("d", 1, 3),
         table="bonus", title="Friedman Equation"),
    _law("test_8", "E_n/(1+E_n/(m*c**2)*(1-cos(theta)))",
         ("E_n", 1, 3), ("m", 1, 3), ("c", 1, 3), ("theta", 1, 3),
         table="bonus", title="Compton Scattering"),
    _law("test_9", "-32/5*G**4/c**5*(m1*m2)**2*(m1+m2)/r**5",
         ("G", 1, 2), ("c", 1, 2), ("m1", 1, 5), ("m2", 1, 5), ("r", 1, 2),
         table="bonus", title="Gravitational wave ratiated power"),
    _law("test_10", "acos((cos(theta2)-v/c)/(1-v/c*cos(theta2)))",
         ("c", 4, 6), ("v", 1, 3), ("theta2", 1, 3),
         table="bonus", title="Relativistic aberation"),
    _law("test_11", "I_0*(sin(alpha/2)*sin(n*delta/2)/(alpha/2*sin(delta/2)))**2",
         ("I_0", 1, 3), ("alpha", 1, 3), ("delta", 1, 3), ("n", 1, 2),
         table="bonus", title="N-slit diffraction"),
    _law("test_12", "q/(4*pi*epsilon*y**2)*(4*pi*epsilon*Volt*d-q*d*y**3/(y**2-d**2)**2)",
         ("q", 1, 5), ("y", 1, 3), ("Volt", 1, 5), ("d", 4, 6), ("epsilon", 1, 5),
         table="bonus", title="2.11 Jackson"),
    _law("test_13", "1/(4*pi*epsilon)*q/sqrt(r**2+d**2-2*r*d*cos(alpha))",
         ("q", 1, 5), ("r", 1, 3), ("d", 4, 6), ("alpha", 0, 6), ("epsilon", 1, 5),
         table="bonus", title="3.45 Jackson"),
    _law("test_14", "Ef*cos(theta)*(-r+d**3/r**2*(alpha-1)/(alpha+2))",
         ("Ef", 1, 5), ("theta", 0, 6), ("r", 1, 5), ("d", 1, 5), ("alpha", 1, 5),
         table="bonus", title="4.60' Jackson"),
    _law("test_15", "sqrt(1-v**2/c**2)*omega/(1+v/c*cos(theta))",
         ("c", 5, 20), ("v", 1, 3), ("omega", 1, 5), ("theta", 0, 6),
         table="bonus", title="11.38 Jackson"),
    _law("test_16", "sqrt((p-q*A_vec)**2*c**2+m**2*c**4)+q*Volt",
         ("m", 1, 5), ("c", 1, 5), ("p", 1, 5), ("q", 1, 5), ("A_vec", 1, 5), ("Volt", 1, 5),
         table="bonus", title="8.56 Goldstein"),
    _law("test_17", "1/(2*m)*(p**2+m**2*omega**2*x**2*(1+alpha*x/y))",
         ("m", 1, 5), ("omega", 1, 5), ("p", 1, 5), ("y", 1, 5), ("x", 1, 5), ("alpha", 1, 5),
         table="bonus", title="12.80' Goldstein"),
    _law("test_18", "3/(8*pi*G)*(c**2*k_f/r**2+H_G**2)",
         ("G", 1, 5), ("k_f", 1, 5), ("r", 1, 5), ("H_G", 1, 5), ("c", 1, 5),
         table="bonus", title="15.2.1 Weinberg"),
    _law("test_19", "-1/(8*pi*G)*(c**4*k_f/r**2+H_G**2*c**2*(1-2*alpha))",
         ("G", 1, 5), ("k_f", 1, 5), ("r", 1, 5), ("H_G", 1, 5), ("alpha", 1, 5), ("c", 1, 5),
         table="bonus", title="15.2.2 Weinberg"),
    _law("test_20", "1/(4*pi)*alpha**2*h**2/(m**2*c**2)*(omega_0/omega)**2*(omega_0/omega+omega/omega_0-sin(bet)**2)",
         ("omega", 1, 5), ("omega_0", 1, 5), ("alpha", 1, 5), ("h", 1, 5), ("m", 1, 5), ("c", 1, 5), ("bet", 0, 6),
         table="bonus", title="Klein-Nishina (13.132 Schwarz)"),
]

#: The KAN paper's toy problem (Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks").
TOY = Law("toy", "exp(sin(pi*x0) + x1**2)", {"x0": (-1.0, 1.0), "x1": (-1.0, 1.0)})

#: Seed of the development/test split.
SPLIT_SEED = 2026


def split_laws(names, seed=SPLIT_SEED):
    """Split law names into a development half and a test half, deterministically.

    The names are sorted (Python string order), shuffled with
    ``numpy.random.default_rng(seed).permutation`` and cut in two: the first
    ``len(names) // 2`` form the development half, the rest the test half.

    Parameters
    ----------
    names : iterable of str
        Law names.
    seed : int, default=SPLIT_SEED
        Seed of the shuffle.

    Returns
    -------
    dev, test : tuple of str
        Each half in sorted order.
    """
    ordered = sorted(names)
    order = np.random.default_rng(seed).permutation(len(ordered))
    half = len(ordered) // 2
    return tuple(sorted(ordered[i] for i in order[:half])), tuple(sorted(ordered[i] for i in order[half:]))


# The split of the 120 laws, made with split_laws(LAWS names, seed 2026) BEFORE any
# tuning on them and recorded here so that it cannot drift (``_check`` asserts that the
# seeded split still gives exactly these halves). Tune only on DEV; report TEST apart.
DEV = (
    "I.12.1", "I.12.11", "I.12.4", "I.13.4", "I.14.3", "I.14.4", "I.15.3t", "I.16.6", "I.18.12",
    "I.18.14", "I.18.4", "I.24.6", "I.25.13", "I.29.16", "I.30.5", "I.34.14", "I.34.8", "I.37.4",
    "I.38.12", "I.39.11", "I.43.16", "I.43.43", "I.47.23", "I.48.2", "I.6.2", "I.6.2a", "I.6.2b",
    "II.10.9", "II.11.17", "II.11.28", "II.13.23", "II.15.4", "II.2.42", "II.3.24", "II.34.11",
    "II.34.2", "II.34.29a", "II.34.2a", "II.35.21", "II.36.38", "II.37.1", "II.6.11", "II.6.15b",
    "III.10.19", "III.13.18", "III.14.14", "III.15.12", "III.15.14", "III.15.27", "III.19.51",
    "III.4.33", "III.8.54", "test_1", "test_14", "test_16", "test_17", "test_2", "test_3", "test_4",
    "test_7",
)
TEST = (
    "I.10.7", "I.11.19", "I.12.2", "I.12.5", "I.13.12", "I.15.10", "I.15.3x", "I.26.2", "I.27.6",
    "I.29.4", "I.30.3", "I.32.17", "I.32.5", "I.34.1", "I.34.27", "I.39.1", "I.39.22", "I.40.1",
    "I.41.16", "I.43.31", "I.44.4", "I.50.26", "I.8.14", "I.9.18", "II.11.20", "II.11.27",
    "II.11.3", "II.13.17", "II.13.34", "II.15.5", "II.21.32", "II.24.17", "II.27.16", "II.27.18",
    "II.34.29b", "II.35.18", "II.38.14", "II.38.3", "II.4.23", "II.6.15a", "II.8.31", "II.8.7",
    "III.12.43", "III.17.37", "III.21.20", "III.4.32", "III.7.38", "III.9.52", "test_10", "test_11",
    "test_12", "test_13", "test_15", "test_18", "test_19", "test_20", "test_5", "test_6", "test_8",
    "test_9",
)


def law_expression(law):
    """The law as a SymPy expression in plain symbols.

    Parameters
    ----------
    law : Law
        The law.

    Returns
    -------
    sympy.Expr
        ``law.expression`` parsed with every variable a ``sympy.Symbol(name)`` with no
        assumptions (so it compares equal to formulas built on such symbols).
    """
    symbols = {name: sympy.Symbol(name) for name in law.ranges}
    return sympy.sympify(law.expression, locals=symbols)


def sample(law, n_rows, rng, kind="positive"):
    """Sample inputs uniformly on the law's ranges and evaluate the law on them.

    Parameters
    ----------
    law : Law
        The law.
    n_rows : int
        Number of rows.
    rng : numpy.random.Generator
        Source of randomness; the columns are drawn one after the other, in order.
    kind : {"positive", "signed"}, default="positive"
        Which ranges (:meth:`Law.ranges_for`).

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, n_variables)
        The inputs, one column per variable, named and ordered as ``law.ranges``.
    y : numpy.ndarray of shape (n_rows,)
        The law evaluated on ``X`` (float64, no noise).
    """
    ranges = law.ranges_for(kind)
    if ranges is None:
        raise ValueError(f"law {law.name} has no {kind} ranges")
    columns = {name: rng.uniform(low, high, n_rows) for name, (low, high) in ranges.items()}
    X = pd.DataFrame(columns)
    symbols = [sympy.Symbol(name) for name in ranges]
    function = sympy.lambdify(symbols, law_expression(law), modules="numpy")
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(function(*columns.values()), dtype=float), (n_rows,)).copy()
    return X, y


def _check(n_rows=2000, seed=0):
    """Assert that every law parses to its own plain symbols and samples finite targets.

    Returns the number of laws; prints the laws whose sampled targets are heavy-tailed
    (largest ``|y|`` over 20 times ``rms(y)``), which a fit's R^2 will be dominated by.
    """
    rng = np.random.default_rng(seed)
    names = set()
    for law in [*LAWS, TOY]:
        assert law.name not in names, f"duplicate law {law.name}"
        names.add(law.name)
        bare = sympy.sympify(law.expression)  # no locals: catches names that clash with SymPy
        free = {symbol.name for symbol in bare.free_symbols}
        assert free == set(law.ranges), f"{law.name}: symbols {free} != ranges {set(law.ranges)}"
        assert all(isinstance(s, sympy.Symbol) for s in bare.free_symbols), law.name
        for kind in RANGE_KINDS:
            ranges = law.ranges_for(kind)
            if ranges is None:
                continue
            assert list(ranges) == law.variables, f"{law.name}: {kind} ranges out of order"
            assert all(low < high for low, high in ranges.values()), law.name
            X, y = sample(law, n_rows, rng, kind)
            assert list(X.columns) == law.variables, law.name
            assert y.shape == (n_rows,) and np.isfinite(y).all(), f"{law.name} ({kind}): non-finite targets"
            rms = float(np.sqrt(np.mean(y**2)))
            if np.max(np.abs(y)) > 20 * rms:
                print(f"  heavy tail: {law.name} ({kind}): max |y| = {np.max(np.abs(y)):.3g}, rms {rms:.3g}")
    assert len(LAWS) == 120
    assert sum(law.table == "main" for law in LAWS) == 100 and sum(law.table == "bonus" for law in LAWS) == 20
    assert all(law.signed is None or law.signed_variables for law in LAWS)
    assert split_laws(law.name for law in LAWS) == (DEV, TEST), "the recorded split is not the seeded one"
    assert set(DEV) | set(TEST) == {law.name for law in LAWS} and not set(DEV) & set(TEST)
    return len(LAWS)


if __name__ == "__main__":
    n = _check()
    n_signed = sum(law.signed is not None for law in LAWS)
    print(f"{n} laws ({n_signed} with signed ranges) + toy: all parse to plain symbols and give finite targets on "
          f"2,000 rows; split {len(DEV)} dev / {len(TEST)} test")
