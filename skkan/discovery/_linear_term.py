"""A term linear in one input, peeled off with a surrogate network (private; used by
discovery).

``sqrt((p - q*A)**2*c**2 + m**2*c**4) + q*V`` is neither a sum of functions of
disjoint inputs (``q`` is in both terms) nor a product, and it is linear in ``V``
alone, so neither the separability tables nor the linear structures of
:mod:`skkan.discovery._coefficients` (every input but one or two must be linear)
apply. But it has the form

    y = g_0(x without x_j) + x_j * g_1(x_S),

with ``S`` a few inputs (here ``x_j = V`` and ``g_1 = q``). A surrogate network shows
the form by evaluation: along ``x_j`` its values are a line at every row, and the
line's slope changes with the inputs ``S`` only. The slope, read off the surrogate,
is a sub-problem of the inputs ``S``; once its formula is known, ``y - x_j * g_1``
on the *real* rows is a sub-problem of one input fewer, whose data are exact when
``g_1`` is, so the surrogate's approximation error does not reach it (its own
discovery may then find what a law of all the inputs hides: here a power group).
The sum is simplified against the real rows, every constant refitted.
"""

import numpy as np

from ._factors import (
    LEAF_ERROR_FACTOR,
    _evaluate,
    _factor_formulas,
    _simplified_candidates,
    held_out_surrogate,
)
from ._structure import CROSS_ERROR_FACTOR, CROSS_FLOOR, RELEVANCE_THRESHOLD

__all__ = ["linear_term_structure", "linear_term_trial"]

# Rows of the surrogate the structure is read at, and points along each input.
STRUCTURE_ROWS = 64
LINE_POINTS = 5
# At most this many formulas of the slope are tried (each costs a discovery of the
# rest), simplest first.
MAX_SLOPE_FORMULAS = 2


def _with_column(X, column, values):
    rows = np.array(X, dtype=np.float64, copy=True)
    rows[:, column] = values
    return rows


def _slopes(function, X, column, low, high):
    """Secant of the surrogate along ``x_column`` over ``[low, high]`` at every row."""
    return (_evaluate(function, _with_column(X, column, high)) - _evaluate(function, _with_column(X, column, low))) / (
        high - low
    )


def linear_term_structure(function, X, error, random_state=0):
    """``(j, S)`` such that the surrogate is ``g_0(x without x_j) + x_j * g_1(x_S)``, or None.

    At :data:`STRUCTURE_ROWS` rows, ``f`` along ``x_j`` (at :data:`LINE_POINTS` evenly
    spaced values over its range) must be a line to within the tolerance of the cross
    tables of :mod:`skkan.discovery._structure` (``CROSS_ERROR_FACTOR`` times the
    surrogate's ``error``, at least ``CROSS_FLOOR`` of the spread of ``f``), and the
    line's rise over the range must vary between rows by more than that (a slope the
    same at every row is part of an additive split, which the tables find). The slope
    depends on an input ``x_k`` when redrawing ``x_k`` from other rows moves the rise
    by more than the tolerance. Of the inputs that qualify, the one whose slope
    depends on the fewest inputs is returned, when those are not all the other inputs
    (else the slope is no smaller a problem than ``y / x_j``, and a product's
    screens find that).

    Parameters
    ----------
    function : callable
        The surrogate (see :func:`skkan.discovery._structure.input_derivatives`).
    X : ndarray of shape (n_samples, n_features)
        Rows the structure is read at.
    error : float
        The surrogate's RMS error on rows it never saw, in the units of ``f``.

    Returns
    -------
    tuple of (int, tuple of int) or None
    """
    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    if n_features < 3:
        return None
    rng = np.random.default_rng(random_state)
    rows = X[rng.choice(len(X), min(STRUCTURE_ROWS, len(X)), replace=False)]
    spread = float(np.std(_evaluate(function, X)))
    tolerance = max(CROSS_ERROR_FACTOR * error, CROSS_FLOOR * spread)
    found = []
    for column in range(n_features):
        low, high = float(X[:, column].min()), float(X[:, column].max())
        if not high > low:
            continue
        points = np.linspace(low, high, LINE_POINTS)
        values = np.column_stack([_evaluate(function, _with_column(rows, column, t)) for t in points])
        design = np.column_stack([np.ones(LINE_POINTS), points])
        coefficients, *_ = np.linalg.lstsq(design, values.T, rcond=None)
        residual = float(np.sqrt(np.mean((values - (design @ coefficients).T) ** 2)))
        rise = coefficients[1] * (high - low)
        if residual > tolerance or float(np.std(rise)) <= max(tolerance, RELEVANCE_THRESHOLD * spread):
            continue
        depends = []
        for other in range(n_features):
            if other == column:
                continue
            moved = _with_column(rows, other, rows[rng.permutation(len(rows)), other])
            change = (_slopes(function, moved, column, low, high) - coefficients[1]) * (high - low)
            if float(np.sqrt(np.mean(change**2))) > tolerance:
                depends.append(other)
        if len(depends) <= n_features - 2:
            found.append((len(depends), -float(np.std(rise)), column, tuple(depends)))
    if not found:
        return None
    _, _, column, depends = min(found)
    return column, depends


def linear_term_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``g_0 + x_j * g_1`` for the structure :func:`linear_term_structure`
    reads off a surrogate network of ``y``.

    ``g_1`` is discovered on the surrogate's slopes over its inputs (at most
    :data:`MAX_SLOPE_FORMULAS` of its formulas, simplest first); for each, ``g_0`` is
    discovered on ``y - x_j * g_1`` at the real rows over every input but ``x_j``.
    Returns the candidates (simplified against the real rows) and the surrogate's
    training iterations; none when no input qualifies.
    """
    import sympy

    from ..symbolic._simplify import evaluate
    from ._noise import finite_level
    from ._trials import EXACT_LOSS

    function, error, n_iter, rows = held_out_surrogate(
        X_fit, y_fit, X_val, y_val, spec.seed, settings.get("noisy_data", False)
    )
    structure = linear_term_structure(function, X_fit[rows], error, random_state=spec.seed)
    if structure is None:
        return [], n_iter
    column, depends = structure
    low, high = float(X_fit[:, column].min()), float(X_fit[:, column].max())
    slopes = (_slopes(function, X_fit, column, low, high), _slopes(function, X_val, column, low, high))
    # The secant's error: two values of the surrogate, over the input's range.
    slope_error = LEAF_ERROR_FACTOR * np.sqrt(2.0) * error / (high - low)
    # Neither sub-problem peels again (each would train a surrogate of its own).
    sub_settings = {**settings, "linear_terms": False}
    if depends:
        slope_formulas, _ = _factor_formulas(
            list(depends), slopes, X_fit, X_val, symbols, sub_settings, slope_error, spec.seed + 1
        )
    else:
        slope_formulas = [sympy.Float(float(np.mean(slopes[0])))]
    rest = [i for i in range(X_fit.shape[1]) if i != column]
    noise_level = finite_level(settings.get("noise_level"))
    enough = max(EXACT_LOSS, 2.0 * noise_level**2 / max(float(np.var(y_val)), 1e-300))
    # The slope's formula is fitted to the surrogate's slopes and shares their error
    # (0.9975*x1 + 0.0047 for x1): y - x_j * g_1 carries it times x_j, on top of y's
    # noise. That is the rest's noise floor: its discovery stops at a formula within
    # it, and the sum's simplification on the real rows refits every constant (the
    # rest of sqrt(x0**2 + x1**2) + x1*x2 ran every stage in 35-76 s without it).
    rest_level = float(np.hypot(noise_level, slope_error * np.sqrt(np.mean(X_fit[:, column] ** 2))))
    candidates = []
    for k, slope in enumerate(slope_formulas[:MAX_SLOPE_FORMULAS]):
        term = symbols[column] * slope
        residuals = (y_fit - evaluate(term, symbols, X_fit), y_val - evaluate(term, symbols, X_val))
        if not (np.all(np.isfinite(residuals[0])) and np.all(np.isfinite(residuals[1]))):
            continue
        formulas, _ = _factor_formulas(rest, residuals, X_fit, X_val, symbols, sub_settings, rest_level, spec.seed + 2 + k)
        candidates += _simplified_candidates(
            spec, [formula + term for formula in formulas], X_fit, y_fit, X_val, y_val, symbols, settings
        )
        if any(candidate.loss <= enough for candidate in candidates):
            break
    return candidates, n_iter
