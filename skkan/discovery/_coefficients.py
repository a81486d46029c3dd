"""Signed factors and linear inputs: sub-problems without a logarithm (private; used by
discovery).

Two structures that no target transform exposes when ``y`` changes sign:

* **An odd factor.** ``m_0*v/sqrt(1 - v**2/c**2)`` with a signed velocity ``v``
  changes sign with ``v``, so neither ``log|y|`` nor a power of ``y`` applies, and
  ``v`` is no positive input that a monomial could divide out. But ``y/v`` keeps one
  sign on every row, and ``y/v`` is an ordinary one-signed sub-problem (its
  ``(y/(m_0 v))**-2`` is ``1 - (v/c)**2``). :func:`odd_factors` finds such inputs;
  :func:`odd_factor_trial` discovers ``y/x_i`` and multiplies ``x_i`` back.
* **Inputs ``y`` is linear in.** ``(x - u*t)/sqrt(1 - u**2/c**2)`` is linear in ``x``
  and ``t`` jointly, with coefficients that are functions of ``u`` and ``c`` only;
  ``(m_1*r_1 + m_2*r_2)/(m_1 + m_2)`` is linear in ``r_1`` and ``r_2`` with coefficients
  of ``m_1`` and ``m_2``. Then ``y = g_0(z) + sum_j x_j g_j(z)`` (a varying-coefficient
  model), which one least-squares fit of polynomial coefficients checks in milliseconds:
  :func:`linear_structure` finds the smallest set ``z`` of one or two inputs that
  leaves ``y`` linear in the others, and :func:`linear_trial` discovers every
  coefficient ``g_j`` on its fitted values, a sub-problem of one or two inputs, and
  combines their formulas.
"""

import itertools
import math

import numpy as np
import scipy.linalg

__all__ = ["linear_structure", "linear_trial", "odd_factor_trial", "odd_factors"]

# An odd factor on noisy data: y/x_i must keep one sign on the rows where |x_i| is at
# least this quantile of |x_i| (near x_i = 0 the noise flips the sign of y, and
# dividing by x_i there would blow the noise up), and the sub-problem is fitted on
# those rows only.
NOISY_ROWS_QUANTILE = 0.2
# At most this many odd factors are tried (each is a discovery of its own).
MAX_ODD_FACTORS = 2


def odd_factors(X, y, noise_level=None):
    """Signed inputs ``x_i`` such that ``y / x_i`` keeps one strict sign.

    Without noise every row must agree; with any noise (``noise_level`` > 0, which
    includes the tiny errors of a sub-problem's fitted values, whose sign flips where
    they cross 0) the rows with the smallest ``|x_i|`` are left out (see
    :data:`NOISY_ROWS_QUANTILE`).

    Returns
    -------
    list of int
        At most :data:`MAX_ODD_FACTORS` inputs, in input order.
    """
    found = []
    noisy = _any_noise(noise_level)
    for i in range(X.shape[1]):
        column = X[:, i]
        if np.all(column > 0) or np.all(column < 0):
            continue  # one-signed: a monomial's business (or y's own sign)
        rows = factor_rows(column, noisy)
        quotient = y[rows] / column[rows]
        if np.all(quotient > 0) or np.all(quotient < 0):
            found.append(i)
    return found[:MAX_ODD_FACTORS]


def _any_noise(noise_level):
    from ._noise import finite_level

    return finite_level(noise_level) > 0


def factor_rows(column, noisy):
    """Rows an odd factor's sub-problem keeps: all, or with noise those where ``|x_i|``
    is not among the smallest (and never a row where ``x_i`` is 0)."""
    magnitude = np.abs(column)
    rows = magnitude > 0
    if noisy:
        rows &= magnitude >= np.quantile(magnitude, NOISY_ROWS_QUANTILE)
    return rows


def odd_factor_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``x_i * f`` for the odd factor ``x_i`` (``spec.monomial == ((i, 1),)``):
    ``f`` discovered on ``y / x_i``, every formula simplified against the real rows.

    ``settings["noise_level"]`` (the noise of ``y``, None when unknown) decides which
    rows the sub-problem keeps (:func:`factor_rows`). Returns the candidates and 0
    training iterations (the sub-discovery's networks are its own).
    """
    from ._factors import _factor_formulas, _simplified_candidates

    (index, _), = spec.monomial
    noise_level = settings.get("noise_level")
    noisy = _any_noise(noise_level)
    fit_rows, val_rows = factor_rows(X_fit[:, index], noisy), factor_rows(X_val[:, index], noisy)
    values = (y_fit[fit_rows] / X_fit[fit_rows, index], y_val[val_rows] / X_val[val_rows, index])
    # The noise of y / x_i on the rows kept, as one level (its root mean square).
    level = noise_level * float(np.sqrt(np.mean(X_fit[fit_rows, index] ** -2.0))) if noisy else None
    inputs = list(range(X_fit.shape[1]))
    # What y/x_i gains is a one-signed target (its log, its powers, the screen): the
    # sub-discovery runs the trials without a hidden layer only, which the main
    # discovery runs on y anyway. A sign shared by chance (a*exp(-w) + sin(b*w), where
    # sin dominates) then costs seconds, not a discovery of every stage (48 s).
    formulas, _ = _factor_formulas(
        inputs, values, X_fit[fit_rows], X_val[val_rows], symbols, {**settings, "hidden": False}, level, spec.seed
    )
    formulas = [symbols[index] * formula for formula in formulas]
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings), 0


# A varying-coefficient fit is accepted when its held-out mean squared residual over
# the variance of y is at most this (coefficients of one or two inputs fit smooth laws
# to 1e-8 and better), or at most NOISE_FACTOR times the noise variance's share.
LINEAR_RESIDUAL = 1e-6
NOISE_FACTOR = 2.0
# A fit needs this many rows per column (the coefficients' bases times the inputs).
ROWS_PER_COLUMN = 3
# The coefficients are Chebyshev polynomials of their inputs (tensor products for two),
# of degree at most this many per input: smooth laws converge spectrally, where
# splines stall at the data's edges (the coefficients of (x - u*t)/sqrt(1 - u**2/c**2)
# in u and c: RMS error 1.5e-4 with cubic splines of 7 intervals, 1e-4 with 13;
# 2e-5 with degree 8, 5e-6 with degree 12). The trial picks the degree by the held-out
# residual, from MIN_DEGREE up to what the rows allow.
MAX_DEGREE = {1: 24, 2: 12}
MIN_DEGREE = 6
# A coefficient whose root mean square, times that of its input, is below this share
# of y's standard deviation is 0; one whose spread is below this share of its root
# mean square is a constant.
ZERO_COEFFICIENT = 1e-6
CONSTANT_COEFFICIENT = 1e-6


def _is_constant(coefficient):
    """Whether a coefficient's spread is within :data:`CONSTANT_COEFFICIENT` of its
    root mean square."""
    rms = max(float(np.sqrt(np.mean(coefficient**2))), 1e-300)
    return float(np.std(coefficient)) <= CONSTANT_COEFFICIENT * rms


def chebyshev_basis(U, degree, total=False):
    """Tensor-product Chebyshev polynomials of the columns of ``U`` (each mapped onto
    [-1, 1] by its range), of degree at most ``degree`` per column, or in all columns
    together when ``total`` (then without the constant). Columns in lexicographic
    order of the degrees, the first column's slowest."""
    from numpy.polynomial import chebyshev

    basis = np.ones((len(U), 1))
    degrees = np.zeros(1, dtype=int)
    for column in U.T:
        low, high = float(np.min(column)), float(np.max(column))
        scaled = 2.0 * (column - low) / (high - low) - 1.0 if high > low else np.zeros_like(column)
        terms = chebyshev.chebvander(scaled, degree)
        basis = (basis[:, :, None] * terms[:, None, :]).reshape(len(U), -1)
        degrees = (degrees[:, None] + np.arange(degree + 1)[None, :]).ravel()
    if total:
        return basis[:, (degrees > 0) & (degrees <= degree)]
    return basis


def _chebyshev_basis(X, z, degree):
    """:func:`chebyshev_basis` of the columns ``z`` of ``X``."""
    return chebyshev_basis(X[:, list(z)], degree)


def _largest_degree(n_fit, z, n_linear):
    """The highest degree whose fit has :data:`ROWS_PER_COLUMN` rows per column (0: none)."""
    for degree in range(MAX_DEGREE[len(z)], MIN_DEGREE - 1, -1):
        if (degree + 1) ** len(z) * (n_linear + 1) * ROWS_PER_COLUMN <= n_fit:
            return degree
    return 0


def _fit_coefficients(X, y, n_fit, z, linear, degree):
    """Least-squares varying coefficients; their values at every row (intercept first)
    and the held-out mean squared residual."""
    basis = _chebyshev_basis(X, z, degree)
    design = np.hstack([basis] + [X[:, [j]] * basis for j in linear])
    # QR with column pivoting: several times faster than the SVD for these sizes.
    solution = scipy.linalg.lstsq(design[:n_fit], y[:n_fit], lapack_driver="gelsy", check_finite=False)[0]
    residual = float(np.mean((design[n_fit:] @ solution - y[n_fit:]) ** 2))
    width = basis.shape[1]
    values = [basis @ solution[k * width : (k + 1) * width] for k in range(len(linear) + 1)]
    return values, residual


def linear_structure(X, y, n_fit, noise_variance=0.0):
    """The smallest set ``z`` of one or two inputs such that ``y`` is linear in all the
    others, with coefficients that are functions of ``z``:
    ``y = g_0(z) + sum_j x_j g_j(z)``.

    ``X`` and ``y`` hold ``n_fit`` rows to fit, then rows to judge the fit on. A set
    whose coefficients are all constant but ``g_0`` (an additive ``y``, which the
    additive trials find) does not count. Returns ``z`` as a tuple, or None.
    """
    n_features = X.shape[1]
    variance = max(float(np.var(y)), 1e-300)
    limit = max(LINEAR_RESIDUAL, NOISE_FACTOR * noise_variance / variance)
    for size in (1, 2):
        best = None
        for z in itertools.combinations(range(n_features), size):
            linear = [j for j in range(n_features) if j not in z]
            if not linear:
                continue
            degree = _largest_degree(n_fit, z, len(linear))
            if not degree:
                continue
            # The highest degree fits smooth coefficients best; on noisy rows it fits
            # the noise too, and the lowest one judges better.
            degrees = sorted({MIN_DEGREE, degree}) if noise_variance > 0 else [degree]
            values, residual = min(
                (_fit_coefficients(X, y, n_fit, z, linear, d) for d in degrees), key=lambda fit: fit[1]
            )
            residual /= variance
            varying = not all(_is_constant(v) for v in values[1:])
            if residual <= limit and varying and (best is None or residual < best[0]):
                best = (residual, z)
        if best is not None:
            return best[1]
    return None


def linear_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``g_0(z) + sum_j x_j g_j(z)`` for ``z = spec.groups[0]``.

    The coefficients are fitted as Chebyshev polynomials of ``z`` on the training
    rows (the degree with the lowest held-out residual); each
    coefficient's formula is discovered on its values over the rows (a sub-problem of
    the inputs ``z``), and the sums of the formulas are simplified against the real
    rows. Returns the candidates and 0 training iterations.
    """
    import sympy

    from ._factors import _factor_formulas, _simplest_combinations, _simplified_candidates, leaf_error_factor

    z = list(spec.groups[0])
    linear = [j for j in range(X_fit.shape[1]) if j not in z]
    X = np.vstack([X_fit, X_val])
    y = np.concatenate([y_fit, y_val])
    n_fit = len(y_fit)
    fits = [
        _fit_coefficients(X, y, n_fit, z, linear, degree)
        for degree in range(MIN_DEGREE, _largest_degree(n_fit, z, len(linear)) + 1, 2)
    ]
    if not fits:
        return [], 0
    values, residual = min(fits, key=lambda fit: fit[1])
    error = math.sqrt(max(residual, 0.0))
    scale = float(np.std(y))
    choices = []
    for k, coefficient in enumerate(values):
        column = np.ones(len(y)) if k == 0 else X[:, linear[k - 1]]
        column_rms = float(np.sqrt(np.mean(column**2)))
        rms = float(np.sqrt(np.mean(coefficient**2)))
        if rms * column_rms <= ZERO_COEFFICIENT * scale:
            continue  # y does not depend on this input (or has no g_0)
        factor = sympy.Integer(1) if k == 0 else symbols[linear[k - 1]]
        if _is_constant(coefficient):
            choices.append([factor * sympy.Float(float(np.mean(coefficient)))])
            continue
        # The coefficient's error is about the fit's residual over its input's size
        # (measured: within a factor of two): the noise floor of its sub-discovery.
        level = leaf_error_factor(settings, scale) * error / max(column_rms, 1e-300)
        formulas, _ = _factor_formulas(
            z, (coefficient[:n_fit], coefficient[n_fit:]), X_fit, X_val, symbols, settings, level, spec.seed + k + 1
        )
        if not formulas:
            return [], 0
        choices.append([factor * formula for formula in formulas])
    if not choices:
        return [], 0
    formulas = [sympy.Add(*picks) for picks in _simplest_combinations(choices)]
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings), 0
