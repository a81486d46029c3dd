"""Feynman-equation laws with at most four inputs, for formula-discovery benchmarks.

The laws, their Feynman ids and their sampling ranges come from the AI Feynman
database (Udrescu & Tegmark 2020, "AI Feynman: a physics-inspired method for symbolic
regression", Science Advances 6(16), eaay2631; table ``FeynmanEquations.csv``). Each
variable is sampled uniformly on the interval the table gives for it: most on
``[1, 5]``; relativistic speeds ``v, u`` on ``[1, 2]`` with ``c`` on ``[3, 10]``; the
Gaussians on ``[1, 3]``; and so on, as listed in :data:`LAWS`.

Differences from the table, none of which changes a law or a range:

* variable names that clash with SymPy names are renamed: ``gamma`` -> ``gam``,
  ``beta`` -> ``bet`` (``lambd`` and ``Ef`` are the table's own spellings);
* ``arcsin`` is written ``asin``;
* I.12.2 and I.12.4 are written with ``r**2`` where the table has ``r/r**3``;
* ``1/2*...`` is kept as the table writes it (SymPy parses it as ``Rational(1, 2)``).

The ranges were transcribed from memory of the table and cross-checked against an
independent transcription of it; every range below agrees with that transcription.

This module does not import skkan. Run it (``python benchmarks/feynman.py``) to check
every law: names parse to plain symbols, and 2,000 sampled rows give finite targets.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy

__all__ = ["LAWS", "TOY", "Law", "law_expression", "sample"]


@dataclass(frozen=True)
class Law:
    """A law to rediscover: a name, a SymPy-parseable expression and input ranges.

    Parameters
    ----------
    name : str
        Feynman id, such as ``"I.12.2"``.
    expression : str
        The law, parseable by :func:`sympy.sympify`, in the variables of ``ranges``.
    ranges : dict of str to (float, float)
        Variable name -> ``(low, high)`` of its uniform sampling interval, in the order
        of the variables (the column order of :func:`sample`).
    """

    name: str
    expression: str
    ranges: dict

    @property
    def variables(self):
        """list of str: the variable names, in column order."""
        return list(self.ranges)


def _law(name, expression, *ranges):
    return Law(name, expression, {var: (float(low), float(high)) for var, low, high in ranges})


U15 = (1, 5)  # the table's most common range

#: Laws of the AI Feynman table with at most four inputs, in the table's order.
LAWS = [
    _law("I.6.2a", "exp(-theta**2/2)/sqrt(2*pi)", ("theta", 1, 3)),
    _law("I.6.2", "exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)", ("sigma", 1, 3), ("theta", 1, 3)),
    _law(
        "I.6.2b",
        "exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma)",
        ("sigma", 1, 3), ("theta", 1, 3), ("theta1", 1, 3),
    ),
    _law("I.8.14", "sqrt((x2-x1)**2+(y2-y1)**2)", ("x1", *U15), ("x2", *U15), ("y1", *U15), ("y2", *U15)),
    _law("I.10.7", "m_0/sqrt(1-v**2/c**2)", ("m_0", *U15), ("v", 1, 2), ("c", 3, 10)),
    _law("I.12.1", "mu*Nn", ("mu", *U15), ("Nn", *U15)),
    _law("I.12.2", "q1*q2/(4*pi*epsilon*r**2)", ("q1", *U15), ("q2", *U15), ("epsilon", *U15), ("r", *U15)),
    _law("I.12.4", "q1/(4*pi*epsilon*r**2)", ("q1", *U15), ("epsilon", *U15), ("r", *U15)),
    _law("I.12.5", "q2*Ef", ("q2", *U15), ("Ef", *U15)),
    _law("I.13.4", "1/2*m*(v**2+u**2+w**2)", ("m", *U15), ("v", *U15), ("u", *U15), ("w", *U15)),
    _law("I.14.3", "m*g*z", ("m", *U15), ("g", *U15), ("z", *U15)),
    _law("I.14.4", "1/2*k_spring*x**2", ("k_spring", *U15), ("x", *U15)),
    _law("I.15.10", "m_0*v/sqrt(1-v**2/c**2)", ("m_0", *U15), ("v", 1, 2), ("c", 3, 10)),
    _law("I.16.6", "(u+v)/(1+u*v/c**2)", ("c", *U15), ("v", *U15), ("u", *U15)),
    _law("I.18.4", "(m1*r1+m2*r2)/(m1+m2)", ("m1", *U15), ("m2", *U15), ("r1", *U15), ("r2", *U15)),
    _law(
        "I.24.6",
        "1/2*m*(omega**2+omega_0**2)*1/2*x**2",
        ("m", 1, 3), ("omega", 1, 3), ("omega_0", 1, 3), ("x", 1, 3),
    ),
    _law("I.25.13", "q/C", ("q", *U15), ("C", *U15)),
    _law("I.26.2", "asin(n*sin(theta2))", ("n", 0, 1), ("theta2", *U15)),
    _law("I.27.6", "1/(1/d1+n/d2)", ("d1", *U15), ("d2", *U15), ("n", *U15)),
    _law("I.29.4", "omega/c", ("omega", 1, 10), ("c", 1, 10)),
    _law(
        "I.29.16",
        "sqrt(x1**2+x2**2-2*x1*x2*cos(theta1-theta2))",
        ("x1", *U15), ("x2", *U15), ("theta1", *U15), ("theta2", *U15),
    ),
    _law("I.30.5", "asin(lambd/(n*d))", ("lambd", 1, 2), ("d", 2, 5), ("n", *U15)),
    _law("I.34.8", "q*v*B/p", ("q", *U15), ("v", *U15), ("B", *U15), ("p", *U15)),
    _law("I.34.14", "(1+v/c)/sqrt(1-v**2/c**2)*omega_0", ("c", 3, 10), ("v", 1, 2), ("omega_0", *U15)),
    _law("I.34.27", "(h/(2*pi))*omega", ("omega", *U15), ("h", *U15)),
    _law("I.37.4", "I1+I2+2*sqrt(I1*I2)*cos(delta)", ("I1", *U15), ("I2", *U15), ("delta", *U15)),
    _law("I.39.1", "3/2*pr*V", ("pr", *U15), ("V", *U15)),
    _law("I.39.11", "1/(gam-1)*pr*V", ("gam", 2, 5), ("pr", *U15), ("V", *U15)),
    _law("I.39.22", "n*kb*T/V", ("n", *U15), ("T", *U15), ("V", *U15), ("kb", *U15)),
    _law("I.43.31", "mob*kb*T", ("mob", *U15), ("T", *U15), ("kb", *U15)),
    _law("I.47.23", "sqrt(gam*pr/rho)", ("gam", *U15), ("pr", *U15), ("rho", *U15)),
    _law("I.48.2", "m*c**2/sqrt(1-v**2/c**2)", ("m", *U15), ("v", 1, 2), ("c", 3, 10)),
    _law("II.3.24", "Pwr/(4*pi*r**2)", ("Pwr", *U15), ("r", *U15)),
    _law("II.4.23", "q/(4*pi*epsilon*r)", ("q", *U15), ("epsilon", *U15), ("r", *U15)),
    _law("II.8.31", "epsilon*Ef**2/2", ("epsilon", *U15), ("Ef", *U15)),
    _law("II.10.9", "sigma_den/epsilon*1/(1+chi)", ("sigma_den", *U15), ("epsilon", *U15), ("chi", *U15)),
    _law("II.15.4", "-mom*B*cos(theta)", ("mom", *U15), ("B", *U15), ("theta", *U15)),
    _law("II.24.17", "sqrt(omega**2/c**2-pi**2/d**2)", ("omega", 4, 6), ("c", 1, 2), ("d", 2, 4)),
    _law("II.27.16", "epsilon*c*Ef**2", ("epsilon", *U15), ("c", *U15), ("Ef", *U15)),
    _law("II.34.2a", "q*v/(2*pi*r)", ("q", *U15), ("v", *U15), ("r", *U15)),
    _law("II.38.14", "Y/(2*(1+sigma))", ("Y", *U15), ("sigma", *U15)),
    _law("III.4.32", "1/(exp((h/(2*pi))*omega/(kb*T))-1)", ("h", *U15), ("omega", *U15), ("kb", *U15), ("T", *U15)),
    _law("III.7.38", "2*mom*B/(h/(2*pi))", ("mom", *U15), ("B", *U15), ("h", *U15)),
    _law("III.12.43", "n*(h/(2*pi))", ("n", *U15), ("h", *U15)),
    _law("III.15.12", "2*U*(1-cos(k*d))", ("U", *U15), ("k", *U15), ("d", *U15)),
    _law("III.15.27", "2*pi*alpha/(n*d)", ("alpha", *U15), ("n", *U15), ("d", *U15)),
    _law("III.17.37", "bet*(1+alpha*cos(theta))", ("bet", *U15), ("alpha", *U15), ("theta", *U15)),
]

#: The KAN paper's toy problem (Liu et al. 2024, "KAN: Kolmogorov-Arnold Networks").
TOY = Law("toy", "exp(sin(pi*x0) + x1**2)", {"x0": (-1.0, 1.0), "x1": (-1.0, 1.0)})


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


def sample(law, n_rows, rng):
    """Sample inputs uniformly on the law's ranges and evaluate the law on them.

    Parameters
    ----------
    law : Law
        The law.
    n_rows : int
        Number of rows.
    rng : numpy.random.Generator
        Source of randomness; the columns are drawn one after the other, in order.

    Returns
    -------
    X : pandas.DataFrame of shape (n_rows, n_variables)
        The inputs, one column per variable, named and ordered as ``law.ranges``.
    y : numpy.ndarray of shape (n_rows,)
        The law evaluated on ``X`` (float64, no noise).
    """
    columns = {name: rng.uniform(low, high, n_rows) for name, (low, high) in law.ranges.items()}
    X = pd.DataFrame(columns)
    symbols = [sympy.Symbol(name) for name in law.ranges]
    function = sympy.lambdify(symbols, law_expression(law), modules="numpy")
    y = np.broadcast_to(np.asarray(function(*columns.values()), dtype=float), (n_rows,)).copy()
    return X, y


def _check(n_rows=2000, seed=0):
    """Assert that every law parses to its own plain symbols and samples finite targets."""
    rng = np.random.default_rng(seed)
    names = set()
    for law in [*LAWS, TOY]:
        assert law.name not in names, f"duplicate law {law.name}"
        names.add(law.name)
        bare = sympy.sympify(law.expression)  # no locals: catches names that clash with SymPy
        free = {symbol.name for symbol in bare.free_symbols}
        assert free == set(law.ranges), f"{law.name}: symbols {free} != ranges {set(law.ranges)}"
        assert all(isinstance(s, sympy.Symbol) for s in bare.free_symbols), law.name
        assert all(low < high for low, high in law.ranges.values()), law.name
        X, y = sample(law, n_rows, rng)
        assert list(X.columns) == law.variables, law.name
        assert y.shape == (n_rows,) and np.isfinite(y).all(), f"{law.name}: non-finite targets"
    assert len(LAWS) >= 32 and all(len(law.ranges) <= 4 for law in LAWS)
    return len(LAWS)


if __name__ == "__main__":
    print(f"{_check()} laws + toy: all parse to plain symbols and give finite targets on 2,000 rows")
