"""Terms of an additive trial that its snapped formula misses (private; used by discovery).

An additive network (no hidden layer) fits ``y = sum_i phi_i(x_i)``; snapping turns
each curve into ``c*f(a*x + b) + d`` of the library. When one term is no such
function (``sqrt(r) + 1/sqrt(r)`` in ``sqrt(I1*I2)*(sqrt(r) + 1/sqrt(r) + 2*cos(d))``
with ``r = I1/I2``), the snapped formula comes close and no refit closes the gap, and
what it misses, ``y`` minus the formula, is a function of that term's input. That term
is then a sub-problem of one input on the real rows: ``y`` minus the formula's other
terms is the term plus their small errors, and its own discovery has every trial of
one input (powers, sums of two powers) to find it. Its formula replaces the snapped
one, and the sum is simplified against the real rows with every constant refitted.
"""

import math

import numpy as np

__all__ = ["misfit_inputs", "refined_additive_formulas"]

# The snapped formula must fit its target to this relative mean squared error (an
# additive law with one term outside the library; farther off, the law is not
# additive) and be this many times worse than the noise.
MAX_FORMULA_LOSS = 1e-3
MIN_GAP = 10.0
# An input's term is rediscovered when a smooth function of it (a Chebyshev
# polynomial of degree RESIDUAL_DEGREE) explains at least this share of the formula's
# held-out residual; at most MAX_TERMS terms, the worst first, each a discovery of
# one input.
RESIDUAL_DEGREE = 8
MIN_EXPLAINED = 0.5
MAX_TERMS = 2
# Formulas of a term kept for the sums (the real rows decide among them).
MAX_TERM_FORMULAS = 3


def _terms_by_input(formula, symbols):
    """``{i: term}`` of a sum of one-input terms, and its constant; None when a term
    has several inputs."""
    import sympy

    terms, constant = {}, sympy.Integer(0)
    for term in sympy.Add.make_args(formula):
        used = [i for i, symbol in enumerate(symbols) if term.has(symbol)]
        if not used:
            constant += term
        elif len(used) == 1:
            terms[used[0]] = terms.get(used[0], sympy.Integer(0)) + term
        else:
            return None, None
    return terms, constant


def misfit_inputs(X_fit, r_fit, X_val, r_val, degree=RESIDUAL_DEGREE):
    """``{i: share}``: the share of the held-out residual ``r_val`` that a polynomial
    of ``x_i`` (least squares on the fitting rows) explains, for every input."""
    from numpy.polynomial import chebyshev

    total = float(np.mean(r_val**2))
    shares = {}
    if not total > 0:
        return shares
    for i in range(X_fit.shape[1]):
        low, high = float(X_fit[:, i].min()), float(X_fit[:, i].max())
        if not high > low:
            continue
        u_fit = np.clip(2 * (X_fit[:, i] - low) / (high - low) - 1, -1, 1)
        u_val = np.clip(2 * (X_val[:, i] - low) / (high - low) - 1, -1, 1)
        fit = chebyshev.Chebyshev.fit(u_fit, r_fit, degree, domain=[-1, 1])
        shares[i] = 1.0 - float(np.mean((r_val - fit(u_val)) ** 2)) / total
    return shares


def refined_additive_formulas(formula, symbols, X_fit, t_fit, X_val, t_val, settings, seed):
    """Formulas of an additive trial's target with its misfit terms rediscovered.

    Parameters
    ----------
    formula : sympy.Expr
        The trial's snapped formula of its target, a sum of one-input terms in
        ``symbols``.
    symbols : list of sympy.Symbol
        The network's input symbols.
    X_fit, t_fit, X_val, t_val : ndarray
        The network's input rows and target, fitting and held out.
    settings : dict
        Discovery settings (their ``noise_level``, when known, sets how close the
        formula must be to leave it alone).
    seed : int
        Seed of the sub-discoveries.

    Returns
    -------
    list of sympy.Expr
        Formulas of the target in ``symbols``; empty when the formula is not a sum of
        one-input terms, is far from its target or within its noise, or no term could
        be rediscovered.
    """
    from ..symbolic._simplify import evaluate
    from ._factors import _factor_formulas, _simplest_combinations
    from ._noise import finite_level

    if X_fit.shape[1] < 2:
        return []  # a problem of one input is its own term
    variance = float(np.var(t_val))
    if not variance > 0:
        return []
    terms, constant = _terms_by_input(formula, symbols)
    if terms is None:
        return []
    r_fit = t_fit - evaluate(formula, symbols, X_fit)
    r_val = t_val - evaluate(formula, symbols, X_val)
    if not (np.all(np.isfinite(r_fit)) and np.all(np.isfinite(r_val))):
        return []
    formula_loss = float(np.mean(r_val**2)) / variance
    noise_loss = finite_level(settings.get("noise_level")) ** 2 / variance
    if not MIN_GAP * noise_loss < formula_loss <= MAX_FORMULA_LOSS:
        return []
    shares = misfit_inputs(X_fit, r_fit, X_val, r_val)
    worst = sorted((i for i, share in shares.items() if share >= MIN_EXPLAINED), key=shares.get, reverse=True)
    # A term's noise floor is the problem's: what the other terms miss is unknown, and
    # a floor at the part of the residual no polynomial of x_i explains lets an
    # approximation of the term end its discovery (((5.19 - 5.30*cos(0.30*x0 -
    # 0.36))/x0 for sqrt(x0) + 1/sqrt(x0), before the sums of two powers ran).
    floor = math.sqrt(max(noise_loss * variance, 1e-300))
    # Additive, screened and one-input trials only: a closed form of one input is
    # found there, and hidden layers would cost most of the time of a term that has
    # none (II.11.28 through x0*x1: 9 s a trial, no formula).
    sub_settings = {**settings, "hidden": False}
    choices, refined = [], worst[:MAX_TERMS]
    for k, i in enumerate(refined):
        term = terms.get(i, 0)
        # The target minus the other terms: this term plus what the formula misses.
        values = (evaluate(term, symbols, X_fit) + r_fit, evaluate(term, symbols, X_val) + r_val)
        formulas, _ = _factor_formulas([i], values, X_fit, X_val, symbols, sub_settings, 2 * floor, seed + k + 1)
        if not formulas:
            return []
        choices.append(formulas[:MAX_TERM_FORMULAS])
    if not choices:
        return []
    base = sum((term for i, term in terms.items() if i not in refined), constant)
    return [base + sum(picks) for picks in _simplest_combinations(choices)]
