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

  Where a coefficient has a pole at the edge of the data (``1/sqrt(1 - u**2/c**2)``
  with ``|u|`` up to ``c``), no polynomial of ``z`` fits it, and the global fit cannot
  tell linearity from its own error. Local fits can: around a row, ``y`` is fitted as
  cubics of ``z`` plus ``x_j`` times cubics of ``z`` on the nearest rows in
  ``z`` (over which the ``x_j`` still span their whole range), so that a nonlinear
  ``x_j`` leaves a residual at every row while a pole spoils only the rows near it.
  :func:`local_linear_structure` judges the median residual over rows, and
  :func:`linear_trial` takes the local coefficients where they predict held-out rows
  better, discovering each on the rows whose local fit is closest.

  With the columns ``x_j * y`` added, the same local fits find laws that are
  linear-fractional in some inputs, ``y = (g_0 + sum_j x_j g_j) / (1 + sum_j x_j h_j)``
  (as the linear equation ``y = g_0 + sum_j x_j g_j - sum_j x_j y h_j``): relativistic
  velocity addition ``(u + v)/(1 + u*v/c**2)`` in ``u``, with ``g_0 = v``, ``g_1 = 1``
  and ``h_1 = v/c**2``.

  The global fit with the products ``x_j * x_k`` of those inputs added finds laws
  that are a quadratic polynomial in them (:func:`quadratic_structure`), or whose
  square is: the law of cosines of signed lengths, ``sqrt(a**2 + b**2 - 2*a*b*cos(u
  - c))``, squared is ``a**2 + b**2 + a*b*g(u, c)``, with no logarithm to separate
  it; :func:`linear_trial` then reads the root back.
"""

import functools
import itertools
import math

import numpy as np
import scipy.linalg

__all__ = [
    "linear_structure", "linear_trial", "local_linear_structure", "odd_factor_trial", "odd_factors", "polynomial_terms",
    "quadratic_structure",
]

# An odd factor on noisy data: y/x_i must keep one sign on the rows where |x_i| is at
# least this quantile of |x_i| (near x_i = 0 the noise flips the sign of y, and
# dividing by x_i there would blow the noise up), and the sub-problem is fitted on
# those rows only.
NOISY_ROWS_QUANTILE = 0.2
# At most this many odd factors are tried (each is a discovery of its own).
MAX_ODD_FACTORS = 2


def odd_factors(X, y, noise_level=None):
    """Signed inputs ``x_i``, or products ``x_i * x_j`` of two, such that ``y`` over
    them keeps one strict sign.

    Pairs are looked for only where no single input does (``q1*q2/r**2`` with two
    signed charges: ``y/q1`` still changes sign with ``q2``). A single input: without
    noise every row must agree; with any noise (``noise_level`` > 0, which includes the
    tiny errors of a sub-problem's fitted values, whose sign flips where they cross 0)
    the rows with the smallest ``|x_i|`` are left out (see
    :data:`NOISY_ROWS_QUANTILE`). A pair: every row must agree, noise or not (dividing
    by both inputs squares the noise's growth near their zeros, and a pair that holds
    only on exact data costs nothing on noisy data).

    Returns
    -------
    list of tuple of int
        At most :data:`MAX_ODD_FACTORS` factors, each the tuple of its inputs, in
        input order.
    """
    signed = [i for i in range(X.shape[1]) if not (np.all(X[:, i] > 0) or np.all(X[:, i] < 0))]
    found = []
    for size, noisy in ((1, _any_noise(noise_level)), (2, False)):
        for factor in itertools.combinations(signed, size):
            rows = np.logical_and.reduce([factor_rows(X[:, i], noisy) for i in factor])
            quotient = y[rows] / np.prod(X[rows][:, list(factor)], axis=1)
            if rows.any() and (np.all(quotient > 0) or np.all(quotient < 0)):
                found.append(factor)
        if found:
            break
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
    """Candidates ``x_i * f`` for the odd factor ``x_i`` (``spec.monomial == ((i, 1),)``,
    or ``x_i * x_j * f`` for a product of two): ``f`` discovered on ``y / x_i``, every
    formula simplified against the real rows.

    ``settings["noise_level"]`` (the noise of ``y``, None when unknown) decides which
    rows the sub-problem keeps (:func:`factor_rows`). Returns the candidates and 0
    training iterations (the sub-discovery's networks are its own).
    """
    import sympy

    from ._factors import _factor_formulas, _simplified_candidates
    from ._noise import quotient_noise_level

    factor = [index for index, _ in spec.monomial]
    noise_level = settings.get("noise_level")
    noisy = _any_noise(noise_level)

    def kept(X):
        return np.logical_and.reduce([factor_rows(X[:, i], noisy) for i in factor])

    fit_rows, val_rows = kept(X_fit), kept(X_val)
    fit_divisor, val_divisor = np.prod(X_fit[fit_rows][:, factor], axis=1), np.prod(X_val[val_rows][:, factor], axis=1)
    values = (y_fit[fit_rows] / fit_divisor, y_val[val_rows] / val_divisor)
    # The noise of y / x_i on the rows kept, as one level (its root mean square).
    level = quotient_noise_level(noise_level, fit_divisor) if noisy else None
    inputs = list(range(X_fit.shape[1]))
    # What y/x_i gains is a one-signed target (its log, its powers, the screen): the
    # sub-discovery runs the trials without a hidden layer only, which the main
    # discovery runs on y anyway. A sign shared by chance (a*exp(-w) + sin(b*w), where
    # sin dominates) then costs seconds, not a discovery of every stage (48 s).
    formulas, _ = _factor_formulas(
        inputs, values, X_fit[fit_rows], X_val[val_rows], symbols, {**settings, "hidden": False}, level, spec.seed
    )
    product = sympy.Mul(*[symbols[i] for i in factor])
    formulas = [product * formula for formula in formulas]
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
# On exact data, a quadratic's term is 0 (or its coefficient a constant) when its
# contribution (or its variation) is within this many times the fit's held-out RMS
# error: single coefficients are less certain than the fit as a whole. On noisy data
# that error is the noise's, and once is the limit (a real term under ten times the
# noise went: I.24.6 at 10 % noise).
QUADRATIC_ZERO_FACTOR = 10.0
CONSTANT_COEFFICIENT = 1e-6


def _is_constant(coefficient, tolerance=CONSTANT_COEFFICIENT):
    """Whether a coefficient's spread is within ``tolerance`` of its root mean square
    (:data:`LOCAL_CONSTANT` for locally fitted coefficients)."""
    rms = max(float(np.sqrt(np.mean(coefficient**2))), 1e-300)
    return float(np.std(coefficient)) <= tolerance * rms


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


def polynomial_terms(linear, order=1):
    """The monomials of degree at most ``order`` in the inputs ``linear``, as tuples of
    input indices, the constant ``()`` first: ``[(), (0,), (2,)]`` for ``[0, 2]``;
    ``order=2`` adds ``(0, 0), (0, 2), (2, 2)``."""
    terms = [()]
    for degree in range(1, order + 1):
        terms += list(itertools.combinations_with_replacement(linear, degree))
    return terms


def term_column(X, term):
    """The values of a monomial of :func:`polynomial_terms` at the rows of ``X``."""
    return np.prod(X[:, list(term)], axis=1) if term else np.ones(len(X))


def _largest_degree(n_fit, z, n_terms):
    """The highest degree whose fit has :data:`ROWS_PER_COLUMN` rows per column (0: none)."""
    for degree in range(MAX_DEGREE[len(z)], MIN_DEGREE - 1, -1):
        if (degree + 1) ** len(z) * n_terms * ROWS_PER_COLUMN <= n_fit:
            return degree
    return 0


def _fit_coefficients(X, y, n_fit, z, linear, degree, order=1):
    """Least-squares varying coefficients; their values at every row (one per term of
    :func:`polynomial_terms`, the intercept first) and the held-out mean squared
    residual."""
    basis = _chebyshev_basis(X, z, degree)
    design = np.hstack([term_column(X, term)[:, None] * basis for term in polynomial_terms(linear, order)])
    # QR with column pivoting: several times faster than the SVD for these sizes.
    solution = scipy.linalg.lstsq(design[:n_fit], y[:n_fit], lapack_driver="gelsy", check_finite=False)[0]
    residual = float(np.mean((design[n_fit:] @ solution - y[n_fit:]) ** 2))
    width = basis.shape[1]
    values = [basis @ solution[k * width : (k + 1) * width] for k in range(design.shape[1] // width)]
    return values, residual


def linear_structure(X, y, n_fit, noise_variance=0.0, order=1):
    """The smallest set ``z`` of one or two inputs such that ``y`` is linear in all the
    others, with coefficients that are functions of ``z``:
    ``y = g_0(z) + sum_j x_j g_j(z)``; or, with ``order=2``, a quadratic polynomial in
    them: ``+ sum_{j<=k} x_j x_k g_jk(z)`` (the law of cosines squared,
    ``a**2 + b**2 - 2*a*b*cos(u - c)`` of signed ``a`` and ``b``, whose powers no
    logarithm separates).

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
            degree = _largest_degree(n_fit, z, len(polynomial_terms(linear, order)))
            if not degree:
                continue
            # The highest degree fits smooth coefficients best; on noisy rows it fits
            # the noise too, and the lowest one judges better.
            degrees = sorted({MIN_DEGREE, degree}) if noise_variance > 0 else [degree]
            values, residual = min(
                (_fit_coefficients(X, y, n_fit, z, linear, d, order) for d in degrees), key=lambda fit: fit[1]
            )
            residual /= variance
            varying = not all(_is_constant(v) for v in values[1:])
            if residual <= limit and varying and (best is None or residual < best[0]):
                best = (residual, z)
        if best is not None:
            return best[1]
    return None


# A noisy target keeps one sign when no row lies beyond this many noise standard
# deviations on the other side (at 4, a row of Gaussian noise does so about once in
# 30,000).
SIGN_NOISE_FACTOR = 4.0


def sign_within_noise(y, noise_level=0.0):
    """+1 or -1 when ``y`` keeps one sign up to its noise (no row beyond
    :data:`SIGN_NOISE_FACTOR` noise standard deviations on the other side), else 0.

    A law that keeps one sign but reaches 0 (a distance) gives noisy rows of the
    other sign near 0; its square still has the law's structure.
    """
    sign = 1 if np.all(y > 0) else -1 if np.all(y < 0) else 0
    if sign or not noise_level > 0:
        return sign
    sign = 1 if np.mean(y) > 0 else -1
    return sign if np.all(sign * y > -SIGN_NOISE_FACTOR * noise_level) else 0


def quadratic_structure(X, y, n_fit, noise_level=0.0):
    """:func:`linear_structure` of order 2 for ``y``, then for ``y**2`` when ``y``
    keeps one sign (:func:`sign_within_noise`).

    ``noise_level`` is the standard deviation of the noise on ``y``; on ``y**2`` it
    is about ``2*|y|`` times as large. Returns ``(z, power)``, or ``(None, 1)``.
    """
    for power in (1, 2) if sign_within_noise(y, noise_level) else (1,):
        target = y**power
        noise_variance = noise_level**2 * (1.0 if power == 1 else 4.0 * float(np.mean(target)))
        z = linear_structure(X, target, n_fit, noise_variance, order=2)
        if z is not None:
            return z, power
    return None, 1


# Local varying-coefficient fits (see the module docstring). A set ``z`` is accepted
# when the median over rows of a local fit's RMS residual, over the spread of y among
# its neighbours, is at most LOCAL_RESIDUAL, or the residual is within the noise. With
# cubics of z on 2 rows per column of the design (LOCAL_DEGREE, LOCAL_ROWS_PER_COLUMN;
# at least LOCAL_MIN_NEIGHBOURS rows), exact structures give 1.2e-5 with a pole in
# their coefficients ((a - b*u)/(c - u), c down to 1 and u up to 1) and 2.5e-6 and less
# without one, and a y slightly nonlinear in an input taken as linear 1.2e-3 and more
# (1/(a + b) + u*c on [1, 5]: the nonlinear part is small beside u*c; quadratics of z
# gave 4e-4 against 1.4e-3, too close). Judged at LOCAL_ANCHORS rows spread over the data.
LOCAL_RESIDUAL = 1e-4
LOCAL_DEGREE = 3
LOCAL_ROWS_PER_COLUMN = 2
LOCAL_MIN_NEIGHBOURS = 40
LOCAL_ANCHORS = 100
# Local coefficients are accurate to about 1e-4 of their size: one whose spread is
# below this share of its root mean square is a constant, and a structure needs a
# coefficient whose spread, times its input's size, exceeds this share of y's.
LOCAL_CONSTANT = 1e-2
# The sub-discovery of a local coefficient uses the rows whose local fit's relative
# residual is within this quantile (the others lie near the pole, where the local
# quadratics fit worst).
RELIABLE_QUANTILE = 0.8
# The coefficients a trial discovers come from the local fits (degree, rows per column)
# that predict the held-out rows best: on exact data, high degrees on small
# neighbourhoods (the coefficient of x in (t - u*x/c**2)/sqrt(1 - u**2/c**2): RMS error
# 3e-4 with quadratics on 3 rows per column, 1.2e-5 with quartics on 1.5, where its
# sub-discovery needs about 1e-4); with noise, larger ones.
LOCAL_FITS = tuple((degree, rows) for degree in (2, 3, 4) for rows in (1.5, 2.0, 3.0))


def _polynomial_basis(offsets, degree):
    """The monomials of total degree at most ``degree`` in the last axis of ``offsets``
    (..., q), the constant first: shape (..., number of monomials)."""
    q = offsets.shape[-1]
    columns = [np.ones(offsets.shape[:-1])]
    for order in range(1, degree + 1):
        for factors in itertools.combinations_with_replacement(range(q), order):
            columns.append(np.prod(offsets[..., list(factors)], axis=-1))
    return np.stack(columns, axis=-1)


def _n_neighbours(n_z, n_linear, degree=LOCAL_DEGREE, rows_per_column=LOCAL_ROWS_PER_COLUMN):
    """Rows of one local fit: ``rows_per_column`` per column of its design (at least
    :data:`LOCAL_MIN_NEIGHBOURS`)."""
    n_columns = math.comb(n_z + degree, degree) * (n_linear + 1)
    return max(LOCAL_MIN_NEIGHBOURS, int(math.ceil(rows_per_column * n_columns)))


def local_fits(X, y, z, X_at, degree=LOCAL_DEGREE, rows_per_column=LOCAL_ROWS_PER_COLUMN, fractional=False):
    """Varying-coefficient fits of ``y`` on the rows of ``X`` nearest to each row of
    ``X_at`` in the inputs ``z``: polynomials of ``z`` of total degree ``degree`` plus
    every other input times such polynomials, on ``rows_per_column`` rows per column.

    ``fractional`` fits ``y = (g_0 + sum_j x_j g_j) / (1 + sum_j x_j h_j)`` instead,
    as the linear equation ``y = g_0 + sum_j x_j g_j - sum_j x_j y h_j``: a law
    linear-fractional in the other inputs (``(u + v)/(1 + u*v/c**2)`` in ``u``).

    Returns
    -------
    coefficients : ndarray of shape (n_at, n_linear + 1) or (n_at, 2 n_linear + 1)
        ``g_0`` and the ``g_j`` (the other inputs in order) at each row's ``z``, then
        the ``h_j`` when ``fractional``.
    prediction : ndarray of shape (n_at,)
        ``y`` predicted at the rows of ``X_at``.
    relative_residual : ndarray of shape (n_at,)
        Each fit's RMS residual over its rows, divided by the spread of their ``y``.
    residual : ndarray of shape (n_at,)
        Each fit's RMS residual.
    """
    from scipy.spatial import cKDTree

    z = list(z)
    linear = [j for j in range(X.shape[1]) if j not in z]
    low, high = X[:, z].min(axis=0), X[:, z].max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    Z, Z_at = (X[:, z] - low) / width, (X_at[:, z] - low) / width
    n_neighbours = min(len(y), _n_neighbours(len(z), len(linear), degree, rows_per_column))
    _, neighbours = cKDTree(Z).query(Z_at, k=n_neighbours)
    offsets = Z[neighbours] - Z_at[:, None, :]
    radius = np.max(np.abs(offsets), axis=(1, 2))
    basis = _polynomial_basis(offsets / np.where(radius > 0, radius, 1.0)[:, None, None], degree)
    n_basis = basis.shape[-1]
    columns = [basis] + [basis * X[neighbours][..., [j]] for j in linear]
    if fractional:
        columns += [basis * (X[neighbours][..., [j]] * y[neighbours][..., None]) for j in linear]
    design = np.concatenate(columns, axis=-1)
    scale = np.sqrt(np.mean(design**2, axis=1, keepdims=True))
    design = design / np.where(scale > 0, scale, 1.0)
    target = y[neighbours]
    # Normal equations on unit-scaled columns (a pseudo-inverse per neighbourhood was
    # 5x slower), with a ridge of 1e-12 of the diagonal: an input constant over a
    # neighbourhood leaves its fit rank-deficient, not singular.
    transposed = design.transpose(0, 2, 1)
    gram = transposed @ design
    gram += 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] * np.eye(gram.shape[-1])
    solution = np.linalg.solve(gram, transposed @ target[..., None])[..., 0]
    residual = np.sqrt(np.mean((target - (design @ solution[..., None])[..., 0]) ** 2, axis=1))
    spread = np.std(target, axis=1)
    solution = solution / np.where(scale > 0, scale, 1.0)[:, 0, :]
    # At the row itself every offset is 0: only the constant of each polynomial remains.
    coefficients = solution[:, ::n_basis]
    n_linear = len(linear)
    prediction = coefficients[:, 0] + np.sum(coefficients[:, 1 : n_linear + 1] * X_at[:, linear], axis=1)
    if fractional:
        coefficients[:, n_linear + 1 :] *= -1.0  # the h_j
        denominator = 1.0 + np.sum(coefficients[:, n_linear + 1 :] * X_at[:, linear], axis=1)
        prediction = prediction / np.where(denominator != 0, denominator, np.nan)
    return coefficients, prediction, residual / np.maximum(spread, 1e-300), residual


def _varying(coefficients, X, linear, spread):
    """Whether some ``g_j`` (``j`` > 0) varies by more than :data:`LOCAL_CONSTANT` of
    ``y``'s spread, times its input's size (a coefficient that is constant or 0 does
    not: an additive ``y``)."""
    sizes = np.sqrt(np.mean(X[:, linear] ** 2, axis=0))
    return bool(np.any(np.std(coefficients[:, 1:], axis=0) * sizes > LOCAL_CONSTANT * spread))


def local_linear_structure(X, y, noise_variance=0.0, fractional=False):
    """:func:`linear_structure` by local fits (:func:`local_fits`), for coefficients
    that no polynomial fits; the smallest set ``z`` of one or two inputs, or None.

    A set is accepted when the median over :data:`LOCAL_ANCHORS` rows of the local
    fits' relative residual is at most :data:`LOCAL_RESIDUAL`, or their residual
    within :data:`NOISE_FACTOR` times the noise variance; and when some coefficient
    but ``g_0`` varies (``fractional``: when some ``x_j h_j`` is not negligible
    beside 1, else the law is linear).
    """
    n_samples, n_features = X.shape
    spread = float(np.std(y))
    anchors = np.linspace(0, n_samples - 1, min(LOCAL_ANCHORS, n_samples)).round().astype(int)
    for size in (1, 2):
        best = None
        for z in itertools.combinations(range(n_features), size):
            n_linear = n_features - size
            if not n_linear or 2 * _n_neighbours(size, n_linear) > n_samples:
                continue
            linear = [j for j in range(n_features) if j not in z]
            if fractional and 2 * _n_neighbours(size, 2 * n_linear) > n_samples:
                continue
            coefficients, _, relative, residual = local_fits(X, y, z, X[anchors], fractional=fractional)
            accepted = np.minimum(relative / LOCAL_RESIDUAL, residual**2 / max(NOISE_FACTOR * noise_variance, 1e-300))
            score = float(np.median(accepted))
            if fractional:
                terms = coefficients[:, n_linear + 1 :] * X[anchors][:, linear]
                varying = bool(np.any(np.sqrt(np.mean(terms**2, axis=0)) > LOCAL_CONSTANT))
            else:
                varying = _varying(coefficients, X, linear, spread)
            if score <= 1.0 and varying and (best is None or score < best[0]):
                best = (score, z)
        if best is not None:
            return best[1]
    return None


def linear_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``g_0(z) + sum_j x_j g_j(z)`` for ``z = spec.groups[0]``, or
    ``(g_0(z) + sum_j x_j g_j(z)) / (1 + sum_j x_j h_j(z))`` for the transform
    ``"fractional"``, or ``(g_0(z) + sum_j x_j g_j(z) + sum_{j<=k} x_j x_k
    g_jk(z))**(1/p)`` for the transform ``"quadratic"`` of power ``p = spec.power``
    (the polynomial fits ``y**p``).

    The coefficients are fitted as Chebyshev polynomials of ``z`` on the training
    rows (the degree with the lowest held-out residual), or locally
    (:func:`local_fits`; linear and fractional only) where that predicts the held-out
    rows better (always for ``"fractional"``); each coefficient's formula is
    discovered on its values over the rows (a sub-problem of the inputs ``z``; for
    local fits, the rows whose fit is closest), and the combinations of the formulas
    are simplified against the real rows. Returns the candidates and 0 training
    iterations.
    """
    import sympy

    from ._factors import _factor_formulas, _simplest_combinations, _simplified_candidates, is_noisy, leaf_error_factor
    from ._noise import finite_level
    from ._trials import _power_root

    fractional = spec.transform == "fractional"
    order = 2 if spec.transform == "quadratic" else 1
    z = list(spec.groups[0])
    linear = [j for j in range(X_fit.shape[1]) if j not in z]
    terms = polynomial_terms(linear, order)
    X = np.vstack([X_fit, X_val])
    y = np.concatenate([y_fit, y_val])
    noisy = is_noisy(settings.get("noise_level"), float(np.std(y)))
    if order == 2:
        # The polynomial fits y**2 for the power 2, read back with the sign y keeps
        # up to its noise.
        sign = sign_within_noise(y, finite_level(settings.get("noise_level")))
        if spec.power != 1 and not sign:
            return [], 0
        y = y**spec.power
    n_fit = len(y_fit)
    fits = [] if fractional else [
        _fit_coefficients(X, y, n_fit, z, linear, degree, order)
        for degree in range(MIN_DEGREE, _largest_degree(n_fit, z, len(terms)) + 1, 2)
    ]
    values, residual = min(fits, key=lambda fit: fit[1]) if fits else (None, math.inf)
    fit_rows, val_rows = np.ones(n_fit, dtype=bool), np.ones(len(y_val), dtype=bool)
    constant = _is_constant
    if values is not None:
        polynomial_errors = sum(term_column(X, term) * g for term, g in zip(terms, values))[n_fit:] - y[n_fit:]
    local = runner_up = None
    n_columns = 2 * len(linear) if fractional else len(linear)
    for degree, rows_per_column in LOCAL_FITS if order == 1 else ():
        if 2 * _n_neighbours(len(z), n_columns, degree, rows_per_column) > n_fit:
            continue
        coefficients, prediction, relative, _ = local_fits(X_fit, y_fit, z, X, degree, rows_per_column, fractional)
        # The held-out rows away from the pole judge (with a pole, the rows near it
        # decide the mean): the coefficients are discovered on such rows.
        limit = float(np.quantile(relative[:n_fit], RELIABLE_QUANTILE))
        rows = (relative[:n_fit] <= limit, relative[n_fit:] <= limit)
        errors = prediction[n_fit:][rows[1]] - y_val[rows[1]]
        if not rows[1].any() or not np.all(np.isfinite(errors)):
            continue
        reliable_residual = float(np.mean(errors**2))
        if values is not None and reliable_residual >= float(np.mean(polynomial_errors[rows[1]] ** 2)):
            continue  # the polynomials predict those rows better
        if local is None or reliable_residual < local[0]:
            local, runner_up = (reliable_residual, coefficients, rows), local
        elif runner_up is None or reliable_residual < runner_up[0]:
            runner_up = (reliable_residual, coefficients, rows)
    spread_of = {}
    if local is not None:
        residual, coefficients, (fit_rows, val_rows) = local
        values, constant = list(coefficients.T), functools.partial(_is_constant, tolerance=LOCAL_CONSTANT)
        if runner_up is not None:
            # Local coefficients are less accurate than the fit's predictions, by a
            # factor that varies: the next best local fit's coefficients differ from
            # them by about their error (1/c, a coefficient of (u + a*c)/(c + a*u):
            # 8e-7 estimated from the residual, 2e-5 off; the sub-discovery then ran
            # every stage, 39 s, where it ends after its first trial).
            both = fit_rows & runner_up[2][0]
            spread_of = {
                k: float(np.sqrt(np.mean((coefficients[:n_fit][both, k] - runner_up[1][:n_fit][both, k]) ** 2)))
                for k in range(coefficients.shape[1])
            } if both.any() else {}
    if values is None or not val_rows.any():
        return [], 0
    error = math.sqrt(max(residual, 0.0))
    scale = float(np.std(y))
    choices, in_denominator = [], []
    # A quadratic's coefficients are many, and their values carry the fit's error: a
    # hidden-layer stage on each costs more than the structure is worth (I.12.11,
    # q*(Ef + B*v*sin(theta)): a sub-discovery of q ran every stage, 27 s). Their
    # own additive, screened and product trials remain.
    sub_settings = {**settings, "hidden": False} if order == 2 else settings
    for k, coefficient in enumerate(values):
        denominator = fractional and k > len(linear)
        # The column a coefficient multiplies in the linear equation for y: a
        # monomial of the inputs (1, x_j, x_j * x_k), or x_j * y for the h_j (y = g_0 +
        # sum_j x_j g_j - sum_j x_j y h_j).
        if denominator:
            j = linear[(k - 1) % len(linear)]
            column, factor = X[:, j] * y, symbols[j]
        else:
            column, factor = term_column(X, terms[k]), sympy.Mul(*[symbols[i] for i in terms[k]])
        column_rms = float(np.sqrt(np.mean(column**2)))
        rms = float(np.sqrt(np.mean(coefficient**2)))
        # A quadratic's many terms include some that the law lacks, fitted to about
        # the fit's error (1e-5 of y where it is 3e-5), and constant ones that wiggle
        # by about as much: each would cost a sub-discovery of noise-like values
        # (I.12.11: 105 s; the 1 of a**2 in the law of cosines: 23 s). A term whose
        # whole contribution, or whose variation, is within that error is 0 or a
        # constant there; both are measured on the term's values, coefficient times
        # column, since where the column is small the coefficient is poorly
        # determined and matters little.
        tolerance = (1.0 if noisy else QUADRATIC_ZERO_FACTOR) * error if order == 2 else 0.0
        term_rms = float(np.sqrt(np.mean((coefficient * column) ** 2)))
        if rms * column_rms <= ZERO_COEFFICIENT * scale or term_rms <= tolerance:
            continue  # y does not depend on this input (or has no g_0)
        in_denominator.append(denominator)
        if order == 2:
            best_constant = float(np.sum(coefficient * column**2) / max(float(np.sum(column**2)), 1e-300))
            if float(np.sqrt(np.mean(((coefficient - best_constant) * column) ** 2))) <= tolerance:
                choices.append([factor * sympy.Float(best_constant)])
                continue
        if constant(coefficient):
            choices.append([factor * sympy.Float(float(np.mean(coefficient)))])
            continue
        # The coefficient's error is about the fit's residual over its column's size
        # (measured: within a factor of two): the noise floor of its sub-discovery.
        level = leaf_error_factor(settings, scale) * max(error / max(column_rms, 1e-300), spread_of.get(k, 0.0))
        sub_values = (coefficient[:n_fit][fit_rows], coefficient[n_fit:][val_rows])
        formulas, _ = _factor_formulas(
            z, sub_values, X_fit[fit_rows], X_val[val_rows], symbols, sub_settings, level, spec.seed + k + 1
        )
        if not formulas:
            return [], 0
        choices.append([factor * formula for formula in formulas])
    if not choices:
        return [], 0
    formulas = []
    for picks in _simplest_combinations(choices):
        numerator = sympy.Add(*[pick for pick, down in zip(picks, in_denominator) if not down])
        denominator = sympy.Add(*[pick for pick, down in zip(picks, in_denominator) if down])
        formulas.append(numerator / (1 + denominator) if fractional else numerator)
    if order == 2 and spec.power != 1:
        formulas = [_power_root(formula, spec.power, sign) for formula in formulas]
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings), 0
