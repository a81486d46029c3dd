"""Power-product groups: ``y = x**p * f(x**q_1, ...)`` (private; used by discovery).

Many laws are a power product of the inputs times a function of one or two other
power products: ``n_0*exp(-m*g*x/(k_b*T))``, ``n*mu*tanh(mu*B/(k_b*T))``,
``sqrt(2/m*(E - U - L**2/(2*m*r**2)))`` (``sqrt(U/m)`` times a function of ``E/U``
and ``L**2/(m*U*r**2)``). AI Feynman finds such dimensionless groups from the units;
here they come from the data. In the logs of the inputs, ``L = log|x|``,

    log|y| = p . L + g(Q . L)

is a linear part plus a function of one or two linear indices (a partially linear
single- or multiple-index model). Its Hessian, ``Q g'' Q^T``, has the rank of the
number of groups, so the leading eigenvectors of the Hessian of a quadratic fit start
the search for ``Q``; a variable-projection fit refines it (for a given ``Q``, ``p``
and ``g``, a cubic spline of one index or a tensor Chebyshev polynomial of two, are
one linear least-squares fit). ``Q`` is then scaled to small integers and ``p``
rounded to halves, and each rounded structure is kept only if it still fits to float
precision (or to the noise), so a group is never forced onto a law without one. Up to
two inputs of both signs may take part: ``g`` then has a branch per pattern of their
signs. ``f`` is a problem of one or two inputs, ``u_k = x**q_k``, on the values
``y / x**p``: a discovery of seconds whatever the number of inputs, read back as
``x**p * f(x**q_1, ...)``.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._trials import EXACT_LOSS, _monomial_expression, _monomial_values

__all__ = ["PowerGroup", "group_trial", "power_group"]

# Rows the structure search fits (evenly spread): the fits cost milliseconds each.
GROUP_ROWS = 1000
# Interior knots of the index's cubic spline (half at quantiles, half even).
GROUP_KNOTS = 16
# Relative residual of log|y| (its mean squared residual over its variance) under
# which a fit holds on exact data: the laws with a group fit to 1e-12..1e-9, a law
# without one leaves 1e-3 or more (seen: 8e-4 for p**2/(2*m) + m*omega**2*x**2*(...)).
GROUP_RESIDUAL = 1e-6
# On noisy data the fit holds when its residual is within this factor of the noise's
# share of log|y|'s variance.
NOISE_FACTOR = 1.5
# Spline intervals of the one-input sub-problem's networks.
GROUP_GRID_SIZE = 10
# The one-input sub-problem's noise floor is at most this many times the relative
# residual of a spline of log u on log|y / x**p|.
FITTED_NOISE_FACTOR = 2.0
# Inputs of both signs a group may hold (the index's spline is fitted per pattern of
# their signs), and the fewest rows of a pattern.
MAX_SIGNED = 2
MIN_PATTERN_ROWS = 50
# Largest integer exponent of a group, and the most roundings of a direction (or a
# plane) whose fits are tried, simplest first.
MAX_EXPONENT = 6
MAX_ROUNDINGS = 40
# Two groups: the function of the plane is a tensor Chebyshev polynomial of this total
# degree.
PLANE_DEGREE = 10
# A plane's start (the Hessian's two leading eigenvectors) is refined only if its
# residual is at most START_RESIDUAL plus START_NOISE_FACTOR times the acceptance
# threshold: on the development half's laws with positive ranges, the starts of laws
# with two groups left 1e-6 to 1.2e-4 and refined to 1e-9 or less; those of most laws
# without two groups left 1e-2 to 0.9.
START_RESIDUAL = 1e-2
START_NOISE_FACTOR = 3.0
# Planes (integer bases that fit) among which the smoothest coordinates are chosen,
# and prefactors tried for each.
PLANE_CHOICES = 8
MAX_PREFACTORS = 4
# Relative residuals of the smoothness test below this are float rounding: they tie.
SMOOTH_FLOOR = 1e-8
# A plane replaces one group that fits when its residual is at most this share of the
# group's.
PLANE_GAIN = 0.1
# Residual evaluations of the refinement, per parameter.
REFINE_EVALUATIONS = 40
# Weight floor of a row in the noisy fit, as a share of log|y|'s variance (rows where
# y is far above the noise carry the fit; a floor keeps any row from dominating).
WEIGHT_FLOOR = 1e-8


@dataclass(frozen=True)
class PowerGroup:
    """``y = sign * x**prefactor * f(x**group_1, ...)``, exponents as
    ``((input, Fraction), ...)``; ``groups`` holds one or two groups."""

    prefactor: tuple
    groups: tuple
    residual: float


def _spline_basis(u):
    from ._screen import spline_basis

    return spline_basis(u, GROUP_KNOTS)


def _chebyshev_basis(U, degree):
    """Tensor Chebyshev polynomials of the columns of ``U`` of total degree at most
    ``degree``, the constant excluded."""
    from ._coefficients import chebyshev_basis

    return chebyshev_basis(U, degree, total=True)


def _weighted_residual(design, target, weight):
    """Weighted least-squares residual of ``target`` on ``design`` (weights sum to one)."""
    root = np.sqrt(weight)[:, None]
    coefficients = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)[0]
    return target - design @ coefficients


class _LogFit:
    """Fits of ``t = log|y|`` on the centred, scaled logs ``Z`` of ``|x|``.

    ``patterns`` (n_samples, n_patterns) marks each row's pattern of the signed
    inputs' signs: the index's function and the constant are fitted per pattern,
    since ``f`` of a signed ``u`` has a branch for each sign.
    """

    def __init__(self, L, t, weight, patterns):
        self.L, self.t, self.weight = L, t, weight / weight.sum()
        self.centre, self.scale = L.mean(0), np.maximum(L.std(0), 1e-12)
        self.Z = (L - self.centre) / self.scale
        mean = float(self.weight @ t)
        self.variance = max(float(self.weight @ (t - mean) ** 2), 1e-300)
        self.ones = patterns

    def share(self, residual):
        return float(self.weight @ residual**2) / self.variance

    def index_basis(self, U):
        """The constant and a function of the indices ``U`` (n_samples, m), per sign
        pattern: a cubic spline of one index, tensor Chebyshev polynomials of two."""
        basis = _spline_basis(U[:, 0]) if U.shape[1] == 1 else _chebyshev_basis(U, PLANE_DEGREE)
        return np.column_stack([self.ones] + [basis * self.ones[:, [k]] for k in range(self.ones.shape[1])])

    def index_residual(self, W):
        """Residual of ``t`` on a function of ``Z @ W`` and on ``Z`` (``W``: (d, m))."""
        design = np.column_stack([self.Z, self.index_basis(self.Z @ W)])
        return _weighted_residual(design, self.t, self.weight)

    def quadratic_directions(self):
        """Eigenvectors of the Hessian of a quadratic fit, largest eigenvalue first."""
        d = self.Z.shape[1]
        upper = np.triu_indices(d)
        # One constant per sign pattern, then the linear and the quadratic terms.
        design = np.column_stack([self.ones, self.Z] + [self.Z[:, i] * self.Z[:, j] for i, j in zip(*upper)])
        root = np.sqrt(self.weight)[:, None]
        coefficients = np.linalg.lstsq(design * root, self.t * root[:, 0], rcond=None)[0]
        hessian = np.zeros((d, d))
        hessian[upper] = coefficients[self.ones.shape[1] + d :]
        hessian = hessian + hessian.T
        values, vectors = np.linalg.eigh(hessian)
        return vectors[:, np.argsort(-np.abs(values))]

    def refined(self, start):
        """The orthonormal basis ``W`` (d, m) of least index residual near ``start``,
        and that residual."""
        import scipy.optimize

        shape = start.shape

        def basis(flat):
            return np.linalg.qr(flat.reshape(shape))[0]

        def residual(flat):
            # (on every row: on half of them, the search for m*c**2/sqrt(1 - v**2/c**2)
            # with a signed v stalls at 5e-4)
            return self.index_residual(basis(flat)) * np.sqrt(self.weight)

        result = scipy.optimize.least_squares(residual, start.ravel(), method="lm", max_nfev=REFINE_EVALUATIONS * start.size)
        W = basis(result.x)
        return W, self.share(self.index_residual(W))


def _oriented(vector):
    """``vector`` or ``-vector``: most positive entries, then the first non-zero positive."""
    positive, negative = int(np.sum(vector > 0)), int(np.sum(vector < 0))
    if negative > positive or (negative == positive and vector[np.flatnonzero(vector)[0]] < 0):
        return -vector
    return vector


def _integer_vectors(vector, min_inputs=1):
    """Small integer vectors near multiples of ``vector`` (the multiples that make one
    of its entries 1, 2 or 3, rounded), each divided by its entries' gcd and oriented
    (:func:`_oriented`): at most :data:`MAX_EXPONENT` in size, with at least
    ``min_inputs`` non-zero entries. Every rounding is offered, the fit decides: on
    noisy data the direction can be off by a third of an exponent."""
    magnitude = np.abs(vector)
    found = set()
    if magnitude.max() == 0:
        return found
    for j in np.flatnonzero(magnitude > 0.02 * magnitude.max()):
        for multiple in (1, 2, 3):
            rounded = np.round(vector * multiple / magnitude[j])
            if np.max(np.abs(rounded)) > MAX_EXPONENT or np.count_nonzero(rounded) < min_inputs:
                continue
            rounded = _oriented(rounded / np.gcd.reduce(rounded.astype(int)))
            found.add(tuple(int(v) for v in rounded))
    return found


def _simplest(candidates):
    return sorted(candidates, key=lambda candidate: (np.abs(candidate).sum(), candidate))[:MAX_ROUNDINGS]


def _integer_groups(direction):
    """Integer groups of two or more inputs near multiples of ``direction``, simplest
    first (see :func:`_integer_vectors`)."""
    return [np.asarray(group) for group in _simplest(_integer_vectors(direction, min_inputs=2))]


def _integer_planes(W):
    """Pairs of integer groups spanning the plane of ``W`` (d, 2), simplest first.

    For every pair of pivot inputs, the plane's basis that is (1, 0) and (0, 1) there
    (reduced row echelon form, as dimensional analysis pivots on chosen variables),
    each vector scaled to small integers (:func:`_integer_vectors`).
    """
    import itertools

    found = set()
    for pivots in itertools.combinations(range(W.shape[0]), 2):
        minor = W[list(pivots)]
        if abs(np.linalg.det(minor)) < 1e-3 * np.abs(W).max() ** 2:
            continue
        basis = W @ np.linalg.inv(minor)
        first, second = (_integer_vectors(basis[:, k]) for k in range(2))
        for pair in itertools.product(first, second):
            if np.linalg.matrix_rank(np.array(pair, dtype=float)) == 2:
                found.add(tuple(sorted(pair)))
    return [[np.asarray(vector) for vector in pair] for pair in _simplest(found)]


def power_group(X, y, noise_level=None):
    """The power-product groups of ``y``, or None.

    Needs inputs without zeros (at most :data:`MAX_SIGNED` of both signs), a ``y``
    of one strict sign, and a fit of ``log|y|`` by ``p . log|x| + g(Q . log|x|)``
    within :data:`GROUP_RESIDUAL` (or the noise), with ``Q`` one or two groups of
    small integers and ``p`` halves, that a plain monomial (``g`` linear) does not
    already reach. One group is tried first (at least two inputs: of two, a
    ratio such as ``u/c`` leaves a problem of one input), then two (at least four
    inputs, so that the sub-problem has two fewer).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    noise_level : float or None
        Standard deviation of the noise on ``y``.

    Returns
    -------
    PowerGroup or None
    """
    from ..nn._threads import limited_threads

    # Thousands of small least-squares fits: BLAS threads only add overhead to them
    # (I.13.4's search: 0.5 s on one thread, 7 s on two with the other core busy).
    with limited_threads(1, user_api="blas"):
        return _power_group(X, y, noise_level)


def _power_group(X, y, noise_level):
    from ._noise import finite_level

    n, d = X.shape
    if d < 2 or n < 50 or not np.all(X != 0) or not (np.all(y > 0) or np.all(y < 0)):
        return None
    signed = np.flatnonzero(~(np.all(X > 0, axis=0) | np.all(X < 0, axis=0)))
    if len(signed) > MAX_SIGNED:
        return None
    if n > GROUP_ROWS:
        rows = np.linspace(0, n - 1, GROUP_ROWS).round().astype(int)
        X, y = X[rows], y[rows]
    codes = (X[:, signed] > 0) @ (2 ** np.arange(len(signed)))
    patterns = (codes[:, None] == np.unique(codes)[None, :]).astype(float)
    if patterns.shape[1] > 1 and patterns.sum(0).min() < MIN_PATTERN_ROWS:
        return None
    L, t = np.log(np.abs(X)), np.log(np.abs(y))
    # Noise of log|y| is about sigma/|y| on each row: weights are its inverse variance.
    level = finite_level(noise_level)
    log_noise = (level / np.abs(y)) ** 2
    weight = 1.0 / (log_noise + WEIGHT_FLOOR * max(float(np.var(t)), 1e-300))
    fit = _LogFit(L, t, weight, patterns)
    noise_share = float(fit.weight @ log_noise) / fit.variance
    threshold = GROUP_RESIDUAL + NOISE_FACTOR * noise_share
    monomial = _weighted_residual(np.column_stack([patterns, fit.Z]), t, fit.weight)
    if fit.share(monomial) <= threshold:
        return None  # a monomial: the log trial of stage 1 finds it
    directions = fit.quadratic_directions()
    # One index is cheap to refine, from either leading eigenvector: with a signed
    # input the quadratic fit is a poor start (d**2*exp(-x*b/c), x on [-2, 2]: 0.07 to
    # 0.2 of the variance left), yet the refinement reaches 1e-8.
    single = None
    for k in range(2):
        W, residual = fit.refined(directions[:, [k]])
        if residual <= threshold:
            raw = W[:, 0] / fit.scale  # the direction in the raw logs
            found = _rounded(fit, [[group] for group in _integer_groups(raw / np.abs(raw).max())], threshold, signed)
            if found is None:
                # An index of one input: a monomial times a function of that input,
                # which the log trial of stage 1 finds (and every plane holding the
                # index fits too).
                return None
            single = PowerGroup(*found, residual)
            break
    # A plane is refined only from a start near a fit (each refinement costs up to a
    # second). When one group fits, a plane must fit far better: on data the noise
    # estimate calls inexact, (p**2 + m**2*w**2*x**2*(1 + a*x/y))/(2*m) passes with the
    # one group a*x/y (p**2 is small on most rows), its plane fits 1e4 times better.
    if single is not None and single.residual <= GROUP_RESIDUAL:
        return single  # exact: a plane would only fit float rounding better
    if d < 4 or fit.share(fit.index_residual(directions[:, :2])) > START_RESIDUAL + START_NOISE_FACTOR * threshold:
        return single
    W, residual = fit.refined(directions[:, :2])
    if single is not None:
        threshold = min(threshold, PLANE_GAIN * single.residual)
    if residual > threshold:
        return single
    found = _smoothest_plane(fit, _integer_planes(W / fit.scale[:, None]), threshold, signed)
    return single if found is None else PowerGroup(*found, residual)


def _exponents(prefactor, groups):
    """``(prefactor, groups)`` as tuples of ``(input, Fraction)``."""
    exponents = tuple(tuple((i, Fraction(int(v))) for i, v in enumerate(group) if v) for group in groups)
    powers = tuple((i, Fraction(p).limit_denominator(2)) for i, p in enumerate(prefactor) if p)
    return powers, exponents


def _fitting(fit, candidates, threshold, signed):
    """``(Q, prefactors)`` of every candidate list of integer groups whose fit holds
    (as columns of ``Q``), in order; ``prefactors`` (see :func:`_prefactors`) may be
    empty."""
    for groups in candidates:
        Q = np.column_stack(groups).astype(float)
        if fit.share(fit.index_residual(Q * fit.scale[:, None])) <= threshold:
            yield Q, _prefactors(fit, Q, threshold, signed)


def _rounded(fit, candidates, threshold, signed):
    """The first candidate list of integer groups whose fit, with a prefactor of
    halves, holds: ``(prefactor, groups)`` as exponent tuples, or None (one group:
    its orientation is the trial's choice)."""
    for Q, prefactors in _fitting(fit, candidates, threshold, signed):
        if prefactors:
            return _exponents(prefactors[0], Q.T)
    return None


def _smoothest_plane(fit, candidates, threshold, signed):
    """Of the first :data:`PLANE_CHOICES` candidate planes whose fit holds, the basis,
    orientation and prefactor under which ``|y| / x**p`` is smoothest in the groups'
    own values, or None.

    The plane fixes the law's structure, not its coordinates: ``a**2*sqrt(1 + b/a +
    (c*d/(a*e))**2)`` is ``a**2 * f(b/a, c*d/(a*e))`` with a square root of a
    quadratic, or ``b**2 * g(b*e/(c*d), a/b)`` with no simple form. Smoothness is the
    least relative residual of a quadratic polynomial of the two groups' values fitted
    to ``f``, ``f**2``, ``1/f``, ``1/f**2`` or ``log f`` (the targets discovery tries).
    """
    import itertools

    best = None
    for tried, (Q, prefactors) in enumerate(_fitting(fit, candidates, threshold, signed), 1):
        for prefactor in prefactors:
            log_values = fit.t - fit.L @ prefactor
            targets = [np.exp(power * log_values) for power in (1, 2, -1, -2)] + [log_values]
            for flips in itertools.product((1, -1), repeat=2):
                oriented = Q * np.asarray(flips)
                design = np.column_stack([np.ones(len(log_values)), _chebyshev_basis(np.exp(fit.L @ oriented), 2)])
                # Residuals at float rounding tie (so rounding never picks the
                # coordinates); then the fewest and smallest exponents win.
                smoothness = max(min(_relative_residual(design, target) for target in targets), SMOOTH_FLOOR)
                key = (smoothness, np.count_nonzero(prefactor), float(np.abs(prefactor).sum() + np.abs(Q).sum()))
                if best is None or key < best[0]:
                    best = (key, prefactor, oriented.T)
        if tried >= PLANE_CHOICES:
            break
    return None if best is None else _exponents(best[1], best[2])


def _relative_residual(design, target):
    scale = max(float(np.std(target)), 1e-300)
    residual = target - design @ np.linalg.lstsq(design, target, rcond=None)[0]
    return _rms(residual) / scale


def _prefactors(fit, Q, threshold, signed):
    """Exponents ``p`` (halves; even integers for the ``signed`` inputs, so that
    ``x**p`` keeps one sign) with ``log|y| - p . L`` a function of ``L @ Q``, the
    fewest non-zero first (at most :data:`MAX_PREFACTORS`).

    ``p`` is defined up to combinations of the groups, so one input of each group (a
    pivot, the pivots' minor of ``Q`` non-singular) gets no power of its own; every
    choice of pivots is tried.
    """
    import itertools

    L = fit.L
    index_basis = fit.index_basis(L @ Q)
    supports = [np.flatnonzero(Q[:, k]) for k in range(Q.shape[1])]
    found = {}
    root = np.sqrt(fit.weight)[:, None]
    for pivots in itertools.product(*supports):
        if len(set(pivots)) < len(pivots) or abs(np.linalg.det(Q[list(pivots)])) < 0.5:
            continue
        others = [i for i in range(L.shape[1]) if i not in pivots]
        design = np.column_stack([index_basis, L[:, others]])
        coefficients = np.linalg.lstsq(design * root, fit.t * root[:, 0], rcond=None)[0]
        powers = np.zeros(L.shape[1])
        powers[others] = np.round(2 * coefficients[index_basis.shape[1] :]) / 2
        if np.any(powers[signed] % 2) or tuple(powers) in found:
            continue
        residual = _weighted_residual(index_basis, fit.t - L @ powers, fit.weight)
        if fit.share(residual) <= threshold:
            found[tuple(powers)] = (np.count_nonzero(powers), float(np.abs(powers).sum()))
    return [np.asarray(powers) for powers in sorted(found, key=found.get)][:MAX_PREFACTORS]


def _rms(values):
    return float(np.sqrt(np.mean(np.square(values))))


def _log_residual(U, values):
    """Root mean square of what a function of ``log|U|`` (one per pattern of the signs
    of ``U``'s columns; see :meth:`_LogFit.index_basis`) leaves of ``log|values|``."""
    codes = (U > 0) @ (2 ** np.arange(U.shape[1]))
    patterns = (codes[:, None] == np.unique(codes)[None, :]).astype(float)
    target = np.log(np.abs(values))
    fit = _LogFit(np.log(np.abs(U)), target, np.ones(len(target)), patterns)
    return _rms(target - fit.t + _weighted_residual(fit.index_basis(fit.Z), target, fit.weight))


def _orientations(group, u_values, values, n_knots=4):
    """``group`` and its inverse, smoother first: ``f(u)`` and ``f(1/u)`` are the same
    law, but one is often far simpler in its own variable (``1 + 1/u`` against
    ``1 + v``), and networks on a coarse grid see what a cubic spline with ``n_knots``
    even knots sees (four; an oscillating ``f`` needs about its network's grid, and
    even knots then prefer the variable in which its periods are even: ``sin(2*pi*u)``
    against the chirp ``sin(2*pi/v)``). Ordered by that spline's relative residual."""
    inverse = tuple((index, -power) for index, power in group)
    scores = []
    for u in (u_values, 1.0 / u_values):
        t = (u - u.min()) / max(float(np.ptp(u)), 1e-300)
        knots = [np.clip(t - knot, 0, None) ** 3 for knot in np.linspace(0.0, 1.0, n_knots + 2)[1:-1]]
        design = np.column_stack([np.ones_like(t), t, t**2, t**3] + knots)
        residual = values - design @ np.linalg.lstsq(design, values, rcond=None)[0]
        scores.append(float(np.mean(residual**2)) / max(float(np.var(values)), 1e-300))
    return [group, inverse] if scores[0] <= scores[1] else [inverse, group]


def _group_values(X, groups):
    return np.column_stack([_monomial_values(X, group) for group in groups])


def group_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``x**p * f(x**q_1, ...)`` for the groups of ``spec``
    (``spec.monomial`` the prefactor ``p``, ``spec.groups`` the groups, exponents as
    Fractions): ``f`` discovered on ``y / x**p`` over the inputs ``u_k = x**q_k``,
    every formula simplified against the real rows. One group is tried as ``u`` and
    as ``1/u`` (see :func:`_orientations`; the second only when the first finds no
    formula that fits to the noise). Returns the candidates and 0 training
    iterations (the sub-discovery's networks are its own)."""
    import sympy

    from ._factors import _factor_formulas, _simplified_candidates
    from ._noise import finite_level, quotient_noise_level

    prefactor, groups = spec.monomial, spec.groups
    divisor_fit, divisor_val = _monomial_values(X_fit, prefactor), _monomial_values(X_val, prefactor)
    values = (y_fit / divisor_fit, y_val / divisor_val)
    noise_level = finite_level(settings.get("noise_level"))
    # The noise of y / x**p, as one level (its root mean square over the rows), at
    # most what a function of log u leaves of log|y / x**p|: the estimate from a
    # network of all the inputs can sit far above it on exact data (sqrt(8*pi*G*rho/3
    # - alpha*c**2/d**2): 6e-4 of y's spread, where the group fits log|y| to 3e-5),
    # and a floor that high stops the sub-discovery at an approximation.
    level = quotient_noise_level(noise_level, divisor_fit) if noise_level > 0 else settings.get("noise_level")
    u_fit = _monomial_values(X_fit, groups[0]) if len(groups) == 1 else None
    if spec.transform == "index":
        # y is smooth along u, not log|y| along log u (see skkan.discovery._single_index).
        from ._single_index import index_residual

        fitted_level = FITTED_NOISE_FACTOR * np.sqrt(index_residual(u_fit, values[0]) * float(np.var(values[0])))
    else:
        fitted_level = FITTED_NOISE_FACTOR * _log_residual(_group_values(X_fit, groups), values[0]) * _rms(values[0])
    level = fitted_level if level is None else min(level, fitted_level)
    # A formula within twice the noise's share of the held-out variance ends the trial.
    enough = max(EXACT_LOSS, 2.0 * (level * _rms(divisor_val)) ** 2 / max(float(np.var(y_val)), 1e-300))
    sub_settings = dict(settings)
    if X_fit.shape[1] == 2:
        # Of two inputs, the law's own discovery trains the hidden layers anyway: the
        # group's sub-problem gets the additive trials only, which find the functions
        # of one ratio that the law's networks miss (1/sqrt(c**2/u**2 - 1) of u/c).
        sub_settings["hidden"] = False
    if len(groups) == 1:
        # One input affords a finer grid, and needs it: u often spans decades, where
        # tanh(u) saturates within the first interval or two of a coarse quantile
        # grid (n*mu*tanh(mu*B/(k_b*T)): not found with 3 intervals, in 0.4 s with 10).
        # Several periods of f need more: a few intervals per extremum
        # (sin(2*pi*u)**2 over 7.5 periods: found with 40 intervals, not with 10).
        from ._single_index import oscillation_grid

        smooth_grid = max(settings["grid_size"], GROUP_GRID_SIZE)
        sub_settings["grid_size"] = oscillation_grid(u_fit, values[0], smooth_grid)
        n_knots = 4 if sub_settings["grid_size"] == smooth_grid else sub_settings["grid_size"]
        # Periods are even in u, not in its quantiles: an evenly spaced grid follows
        # them where the data thin out.
        sub_settings["uniform_grid"] = n_knots > 4
        choices = [[group] for group in _orientations(groups[0], u_fit, values[0], n_knots)]
    else:
        choices = [list(groups)]
    outer = _monomial_expression(symbols, prefactor)
    candidates = []
    for oriented in choices:
        U_fit, U_val = _group_values(X_fit, oriented), _group_values(X_val, oriented)
        dummies = [sympy.Dummy(f"u{k}", positive=bool(np.all(U_fit[:, k] > 0)) or None) for k in range(len(oriented))]
        formulas, _ = _factor_formulas(list(range(len(oriented))), values, U_fit, U_val, dummies, sub_settings, level, spec.seed)
        inner = {dummy: _monomial_expression(symbols, group) for dummy, group in zip(dummies, oriented)}
        formulas = [outer * formula.xreplace(inner) for formula in formulas]
        candidates += _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings)
        if any(candidate.loss <= enough for candidate in candidates):
            break
    return candidates, 0
