"""A function of one power product of the inputs, found by the data's smoothness
along it (private; used by discovery).

``sin(2*pi*E*t/h)**2`` is a function of ``u = E*t/h`` alone, but the power-group
search of :mod:`skkan.discovery._groups` works on ``log|y|``, which is not smooth
where ``y`` has zeros, and a network of the three inputs cannot follow several
periods of a function of their product. The data show the group without any fit:
sorted by the right ``u``, consecutive targets differ by little (``f'(u) du``); by any
other power product, by about ``y``'s spread. Every power product with small integer
exponents is screened that way in milliseconds, the smoothest few are confirmed by a
local residual of every row against its neighbours along ``u`` (to float precision
on exact data, to the noise on noisy data), and ``f`` becomes a problem of one input
(:func:`skkan.discovery._groups.group_trial`), whose grid follows the number of
extrema of ``f`` (several periods need more intervals than a coarse grid has). The
same screen on ``y`` over a power product of positive inputs that ``y`` is
proportional to (:func:`quotient_index`) finds ``y = x**p * f(u)`` where ``u`` has
signed inputs.
"""

import itertools
from fractions import Fraction

import numpy as np

from ._noise import quotient_noise_level

__all__ = [
    "index_noise_level", "index_residual", "lowered_noise_level", "oscillation_grid", "quotient_index", "single_index",
]

# Rows the screen sorts (evenly spread over the data).
SCREEN_ROWS = 1000
# Largest absolute integer exponent screened: 2 for laws of up to four inputs (312
# products), 1 for five or six (364); laws of more inputs are not screened (3**9 / 2
# products took 2 s for nine, against 0.05 s for six).
MAX_EXPONENT = 2
MAX_EXPONENT_INPUTS = 4
MAX_INPUTS = 6
# The screen: half the mean squared difference of consecutive targets, over their
# variance (1 for a u that orders nothing). Products above this are not confirmed; and
# at most CANDIDATES of the smoothest are.
SCREEN_ROUGHNESS = 0.05
CANDIDATES = 3
# Products screened at a time (a matrix of rows x products).
SCREEN_CHUNK = 1024
# Relative residual (see index_residual) under which a group is confirmed on exact
# data, and the factor over the noise's share of the variance on noisy data. On the
# development laws with positive ranges, true groups left 1e-32 to 2e-19
# (sin(2*pi*E*t/h)**2); the smoothest product of a law without a group, 4.5e-4 (m*c**2
# of m*c**2/sqrt(1 - v**2/c**2)) or more.
EXACT_RESIDUAL = 1e-5
NOISE_FACTOR = 1.5
# Largest weight of a neighbour in index_residual's interpolation.
MAX_WEIGHT = 10.0
# Median of a chi-square of one degree of freedom (the median of a squared standard
# normal), which scales index_residual's median to a variance.
CHI2_MEDIAN = 0.454936
# Grid of a one-input sub-problem: this many intervals per extremum of f, and at
# most MAX_GRID; moves under EXTREMUM_SHARE of f's range do not count as extrema.
INTERVALS_PER_EXTREMUM = 3
MAX_GRID = 100
EXTREMUM_SHARE = 0.05


def _design(u, knots):
    from scipy.interpolate import BSpline

    return BSpline.design_matrix(np.clip(u, knots[0], knots[-1]), knots, 3).toarray()


def _knots(u, n_knots):
    """Cubic B-spline knots at the quantiles of ``u``, the ends repeated."""
    inner = np.unique(np.quantile(u, np.linspace(0.0, 1.0, n_knots + 2)))
    return np.concatenate([[inner[0]] * 3, inner, [inner[-1]] * 3])


def _spline_fit(u, values, n_knots):
    """Least-squares cubic spline of ``values`` on ``u``: (knots, coefficients)."""
    knots = _knots(u, n_knots)
    coefficients = np.linalg.lstsq(_design(u, knots), values, rcond=None)[0]
    return knots, coefficients


def index_residual(u, values):
    """Relative variance of ``values`` about a smooth function of ``u`` (over their
    variance), estimated without a fit: sorted by ``u``, each value against the cubic
    through its two neighbours on either side, scaled so that the mean square
    estimates the noise variance (robustly, by its median; pseudo-residuals, as Gasser, Sroka and
    Jennen-Steinmetz's of the line through one neighbour each side). A smooth function
    leaves about its fourth derivative times ``du**4``, whatever its number of
    periods; a ``u`` that orders nothing leaves about the variance. Rows whose
    neighbours weigh more than :data:`MAX_WEIGHT` (near-ties of ``u`` on one side)
    are left out."""
    u, values = np.asarray(u, dtype=np.float64), np.asarray(values, dtype=np.float64)
    order = np.argsort(u, kind="stable")
    u, values = u[order], values[order]
    centre = np.arange(2, len(u) - 2)
    offsets = (-2, -1, 1, 2)
    weights = np.ones((len(offsets), len(centre)))
    with np.errstate(all="ignore"):
        for j, offset in enumerate(offsets):
            for other in offsets:
                if other != offset:
                    weights[j] *= (u[centre] - u[centre + other]) / (u[centre + offset] - u[centre + other])
    usable = np.all(np.isfinite(weights), axis=0) & (np.max(np.abs(weights), axis=0) <= MAX_WEIGHT)
    if usable.sum() < len(centre) // 2:
        return np.inf
    weights, centre = weights[:, usable], centre[usable]
    interpolated = sum(weights[j] * values[centre + offset] for j, offset in enumerate(offsets))
    pseudo = (interpolated - values[centre]) / np.sqrt(1.0 + np.sum(weights**2, axis=0))
    # The median, over the median of a chi-square of one degree of freedom: a few rows
    # where u thins out (and f moves much between neighbours) do not decide it
    # (sin(2*pi*E*t/h)**2 with 2,000 rows: 8e-5 by the mean, 1e-7 without its sparsest
    # rows).
    return float(np.median(pseudo**2)) / CHI2_MEDIAN / max(float(np.var(values)), 1e-300)


def oscillation_grid(u, values, minimum):
    """Grid intervals for a network of ``values`` against ``u``: ``minimum``, or
    :data:`INTERVALS_PER_EXTREMUM` per extremum of a spline of them (moves under
    :data:`EXTREMUM_SHARE` of its range ignored), at most :data:`MAX_GRID`."""
    u, values = np.asarray(u, dtype=np.float64), np.asarray(values, dtype=np.float64)
    n_knots = min(64, max(4, len(u) // 16))
    knots, coefficients = _spline_fit(u, values, n_knots)
    curve = _design(np.quantile(u, np.linspace(0.0, 1.0, 1024)), knots) @ coefficients
    threshold = EXTREMUM_SHARE * max(float(np.ptp(curve)), 1e-300)
    # A zigzag with hysteresis: a turn counts once the curve has moved back by the
    # threshold from its last extreme.
    extrema, direction, extreme = 0, 0, curve[0]
    for value in curve[1:]:
        if direction == 0:
            if abs(value - curve[0]) > threshold:
                direction, extreme = (1 if value > curve[0] else -1), value
        elif direction * (value - extreme) > 0:
            extreme = value
        elif direction * (extreme - value) > threshold:
            extrema, direction, extreme = extrema + 1, -direction, value
    return int(min(MAX_GRID, max(minimum, INTERVALS_PER_EXTREMUM * extrema)))


def _exponent_vectors(n_features, usable):
    """Integer exponent vectors with at least two nonzero entries, the first nonzero
    positive and no common factor; an input not ``usable`` (it has zeros) takes no
    negative exponent."""
    bound = MAX_EXPONENT if n_features <= MAX_EXPONENT_INPUTS else 1
    for vector in itertools.product(range(-bound, bound + 1), repeat=n_features):
        nonzero = [e for e in vector if e]
        if len(nonzero) < 2 or nonzero[0] < 0 or np.gcd.reduce(np.abs(nonzero)) != 1:
            continue
        if any(e < 0 and not usable[i] for i, e in enumerate(vector)):
            continue
        yield vector


def single_index(X, y, noise_level=None):
    """The power product ``u`` of the inputs such that ``y = f(u)``, or None.

    Every product of :func:`_exponent_vectors` is screened by the roughness of ``y``
    sorted by it (see the module); the :data:`CANDIDATES` smoothest under
    :data:`SCREEN_ROUGHNESS` are confirmed by :func:`index_residual` on all rows: at most
    :data:`EXACT_RESIDUAL`, or :data:`NOISE_FACTOR` times the noise's share of ``y``'s
    variance when ``noise_level`` says the data are noisy.

    Returns
    -------
    tuple of (int, Fraction) or None
        The group, as the power groups write it: ``((input, exponent), ...)``.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n_samples, n_features = X.shape
    if not 2 <= n_features <= MAX_INPUTS or n_samples < 64 or not float(np.var(y)) > 0:
        return None
    rows = np.unique(np.linspace(0, n_samples - 1, min(n_samples, SCREEN_ROWS)).round().astype(int))
    X_screen, y_screen = X[rows], y[rows]
    usable = np.all(np.abs(X) > 1e-12, axis=0)
    variance = float(np.var(y_screen))
    vectors = np.array(list(_exponent_vectors(n_features, usable)), dtype=np.float64).reshape(-1, n_features)
    # Every product at once, through the logs (the sign is the parity of the negative
    # inputs' odd exponents): one matrix product and one sort per chunk of products.
    # (A zero takes a very negative log, not -inf: 0 * -inf would spoil the products
    # that leave its input out.)
    logs = np.log(np.maximum(np.abs(X_screen), 1e-300))
    negative = (X_screen < 0).astype(np.float64)
    screened = []
    for start in range(0, len(vectors), SCREEN_CHUNK):
        chunk = vectors[start : start + SCREEN_CHUNK]
        with np.errstate(invalid="ignore", over="ignore"):
            u = np.exp(logs @ chunk.T) * (1.0 - 2.0 * ((negative @ np.abs(chunk.T)) % 2))
        finite = np.all(np.isfinite(u), axis=0)
        order = np.argsort(u, axis=0, kind="stable")
        steps = np.diff(y_screen[order], axis=0)
        roughness = np.mean(steps**2, axis=0) / (2.0 * variance)
        for k in np.flatnonzero(finite & (roughness <= SCREEN_ROUGHNESS)):
            screened.append((float(roughness[k]), tuple(int(e) for e in chunk[k])))
    if not screened:
        return None
    share = 0.0 if noise_level is None else float(noise_level) ** 2 / max(float(np.var(y)), 1e-300)
    limit = max(EXACT_RESIDUAL, NOISE_FACTOR * share)
    from ._trials import _monomial_values

    confirmed = []
    for _, vector in sorted(screened)[:CANDIDATES]:
        with np.errstate(all="ignore"):
            u = _monomial_values(X, [(i, e) for i, e in enumerate(vector) if e])
        residual = index_residual(u, y)
        if residual <= limit:
            confirmed.append((residual, vector))
    if not confirmed:
        return None
    _, vector = min(confirmed)
    return tuple((i, Fraction(int(e))) for i, e in enumerate(vector) if e)


def quotient_index(X, y, monomial, noise_level=None):
    """:func:`single_index` of ``y`` over ``monomial``, a power product of positive
    inputs that ``y`` is proportional to (``((input, power), ...)``): the group of
    ``y = monomial * f(u)`` where ``u`` has signed inputs (``a**2*cos(2*b*x*d/c)``),
    which the power groups, working on ``log|y|``, cannot split into signs, and which
    ``y`` itself, rough along every product, does not show. ``noise_level`` is that of
    ``y``; the quotient's is its root mean square over the rows. Returns the group or
    None."""
    from ._trials import _monomial_values

    divisor = _monomial_values(np.asarray(X, dtype=np.float64), monomial)
    level = quotient_noise_level(noise_level, divisor)
    return single_index(X, np.asarray(y, dtype=np.float64) / divisor, level)


def index_noise_level(X, y, group):
    """The noise's standard deviation as the residual of ``y`` along the group's power
    product shows it (:func:`index_residual`): an upper bound, since a function of the
    product leaves only the noise about it."""
    from ._trials import _monomial_values

    u = _monomial_values(np.asarray(X, dtype=np.float64), group)
    return float(np.sqrt(index_residual(u, y) * float(np.var(y))))


def lowered_noise_level(X, y, noise_level):
    """``noise_level``, or the residual of ``y`` along a power product that it is a
    function of (:func:`single_index`, :func:`index_noise_level`) where that is below
    half of it.

    That residual bounds the noise from above: far below the estimate, the Gaussian
    process of :func:`skkan.discovery._noise.estimate_noise` could not follow the
    function (several periods of ``sin(2*pi*E*t/h)**2``: noise put at the whole
    variance, and a constant ended discovery as within the noise). Where the two
    agree, the estimate stands (the lower of two estimates is biased low). An
    estimate that high confirms the smoothest product of a law that has none; its
    residual is still an upper bound, above the noise. For the
    estimator's own estimate only: a sub-problem's noise floor is the known error of
    its values, which a smooth function of them hides.
    """
    if noise_level is None or not np.isfinite(noise_level):
        return noise_level
    group = single_index(X, y, noise_level)
    if group is None:
        return noise_level
    along_group = index_noise_level(X, y, group)
    return along_group if along_group < 0.5 * noise_level else noise_level
