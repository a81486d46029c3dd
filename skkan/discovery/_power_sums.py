"""Sums of two powers of one input, plus a constant (private; used by discovery).

``sqrt(r) + 1/sqrt(r)``, ``x + 1/x`` or ``x**2 - 2/x`` is not ``c*f(a*x + b) + d`` for
any function of the library, so no additive network snaps to it; and once a constant
is added (a term of a sum is known only up to one), no power of ``x`` times the
target makes it one either. But for a pair of exponents ``(p, q)`` the form

    y = a + b * x**p + c * x**q

is linear in its constants: least squares over every pair of simple exponents costs
a few milliseconds, and the best pairs are simplified against the rows like any
formula.
"""

import itertools

import numpy as np

__all__ = ["exponent_pairs", "power_sum_formulas", "power_sum_trial"]

# Exponents tried in pairs: halves only where the input is positive; of an input of
# both signs, negative powers only where it stays away from 0 (relative to its
# largest magnitude), since a pole inside the data is no law's term.
POSITIVE_EXPONENTS = (-3, -2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 3)
SIGNED_EXPONENTS = (-3, -2, -1, 1, 2, 3)
AWAY_FROM_ZERO = 0.05
# Pairs whose formulas are simplified (each costs a refit path), best held-out first.
MAX_PAIRS = 2


def exponent_pairs(x):
    """The pairs of exponents that apply to the column ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if np.all(x > 0):
        exponents = POSITIVE_EXPONENTS
    else:
        magnitude = np.abs(x)
        exponents = SIGNED_EXPONENTS
        if not np.min(magnitude) > AWAY_FROM_ZERO * np.max(magnitude):
            exponents = tuple(e for e in exponents if e > 0)
    return list(itertools.combinations(exponents, 2))


def _design(x, pair):
    with np.errstate(all="ignore"):
        return np.column_stack([np.ones_like(x), x ** pair[0], x ** pair[1]])


def power_sum_formulas(x_fit, y_fit, x_val, y_val, symbol, max_pairs=MAX_PAIRS):
    """The formulas ``a + b*x**p + c*x**q`` of the ``max_pairs`` pairs with the lowest
    held-out mean squared error (least squares on the fitting rows)."""
    import sympy

    fits = []
    for pair in exponent_pairs(np.concatenate([x_fit, x_val])):
        design = _design(x_fit, pair)
        if not np.all(np.isfinite(design)):
            continue
        coefficients = np.linalg.lstsq(design, y_fit, rcond=None)[0]
        with np.errstate(all="ignore"):
            error = float(np.mean((_design(x_val, pair) @ coefficients - y_val) ** 2))
        if np.isfinite(error):
            fits.append((error, pair, coefficients))
    fits.sort(key=lambda fit: fit[0])
    formulas = []
    for _, pair, (a, b, c) in fits[:max_pairs]:
        p, q = (sympy.Rational(e).limit_denominator(2) for e in pair)
        formulas.append(sympy.Float(a) + sympy.Float(b) * symbol**p + sympy.Float(c) * symbol**q)
    return formulas


def power_sum_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``a + b*x**p + c*x**q`` for the one input of the problem,
    simplified against the rows; 0 training iterations."""
    from ._factors import _simplified_candidates

    formulas = power_sum_formulas(X_fit[:, 0], y_fit, X_val[:, 0], y_val, symbols[0])
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings), 0
