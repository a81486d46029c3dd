"""Power-product groups: ``y = x**p * f(x**q)`` (private; used by discovery).

Many laws of positive inputs are a power product of the inputs times a function of
one other power product: ``n_0*exp(-m*g*x/(k_b*T))``, ``n*mu*tanh(mu*B/(k_b*T))``,
``H**2/G * (1 + c**2*k/(r*H)**2)``. AI Feynman finds such dimensionless groups from
the units; here they come from the data. In the logs of the inputs, ``L = log x``,

    log|y| = p . L + g(q . L)

is a linear part plus a function of one linear index (a partially linear
single-index model). Its Hessian, ``g'' q q^T``, has rank one, so the leading
eigenvectors of the Hessian of a quadratic fit start the search for ``q``; a
variable-projection fit refines it (for a given ``q``, ``p`` and a cubic spline
``g`` are one linear least-squares fit). The direction is then scaled to small
integers and ``p`` rounded to halves, and each rounded structure is kept only if it
fits the rows as well as the free one did, so a group is never forced onto a law
without one. ``f`` is then a problem of one input, ``u = x**q``, on the values
``y / x**p``: a discovery of seconds whatever the number of inputs, read back as
``x**p * f(x**q)``.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

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
# Largest integer exponent of a group and the most inputs it may hold.
MAX_EXPONENT = 6
# Weight floor of a row in the noisy fit, as a share of log|y|'s variance (rows where
# y is far above the noise carry the fit; a floor keeps any row from dominating).
WEIGHT_FLOOR = 1e-8


@dataclass(frozen=True)
class PowerGroup:
    """``y = sign * x**prefactor * f(x**group)``, exponents as ``((input, Fraction), ...)``."""

    prefactor: tuple
    group: tuple
    residual: float


def _spline_basis(u):
    from ._screen import spline_basis

    return spline_basis(u, GROUP_KNOTS)


def _weighted_residual(design, target, weight):
    """Weighted least-squares residual of ``target`` on ``design`` (weights sum to one)."""
    root = np.sqrt(weight)[:, None]
    coefficients = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)[0]
    return target - design @ coefficients


class _LogFit:
    """Fits of ``t = log|y|`` on the centred, scaled logs ``Z`` of ``|x|``.

    ``patterns`` (n_samples, n_patterns) marks each row's pattern of the signed
    inputs' signs: the index's spline and the constant are fitted per pattern, since
    ``f`` of a signed ``u`` has a branch for each sign.
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

    def index_basis(self, u):
        """The constant and a cubic spline of ``u``, per sign pattern."""
        spline = _spline_basis(u)
        return np.column_stack([self.ones] + [spline * self.ones[:, [k]] for k in range(self.ones.shape[1])])

    def index_residual(self, direction):
        """Residual of ``t`` on a spline of ``Z @ direction`` and on ``Z``."""
        design = np.column_stack([self.Z, self.index_basis(self.Z @ direction)])
        return _weighted_residual(design, self.t, self.weight)

    def quadratic_directions(self):
        """Eigenvectors of the Hessian of a quadratic fit, largest eigenvalue first."""
        d = self.Z.shape[1]
        upper = np.triu_indices(d)
        design = np.column_stack([self.ones, self.Z] + [self.Z[:, i] * self.Z[:, j] for i, j in zip(*upper)])
        # (one constant per sign pattern, then the linear and the quadratic terms)
        root = np.sqrt(self.weight)[:, None]
        coefficients = np.linalg.lstsq(design * root, self.t * root[:, 0], rcond=None)[0]
        hessian = np.zeros((d, d))
        hessian[upper] = coefficients[self.ones.shape[1] + d :]
        hessian = hessian + hessian.T
        values, vectors = np.linalg.eigh(hessian)
        return [vectors[:, k] for k in np.argsort(-np.abs(values))]

    def refined(self, start):
        """The unit direction of least index residual near ``start``, and that residual."""
        import scipy.optimize

        def residual(direction):
            return self.index_residual(direction / np.linalg.norm(direction)) * np.sqrt(self.weight)

        result = scipy.optimize.least_squares(residual, start, method="lm", max_nfev=60 * len(start))
        direction = result.x / np.linalg.norm(result.x)
        return direction, self.share(self.index_residual(direction))


def _integer_groups(direction):
    """Integer vectors (at most :data:`MAX_EXPONENT` in size) near multiples of
    ``direction``, each with its sign fixed: most positive entries, then the first
    non-zero one positive."""
    magnitude = np.abs(direction)
    found = set()
    for j in np.flatnonzero(magnitude > 0.02 * magnitude.max()):
        for multiple in (1, 2, 3):
            scaled = direction * multiple / magnitude[j]
            rounded = np.round(scaled)
            if np.max(np.abs(rounded)) > MAX_EXPONENT or np.count_nonzero(rounded) < 2:
                continue
            if np.max(np.abs(scaled - rounded)) > 0.25:
                continue
            divisor = np.gcd.reduce(rounded.astype(int))
            rounded = rounded / divisor
            positive, negative = int(np.sum(rounded > 0)), int(np.sum(rounded < 0))
            if negative > positive or (negative == positive and rounded[np.flatnonzero(rounded)[0]] < 0):
                rounded = -rounded
            found.add(tuple(int(v) for v in rounded))
    return sorted(found, key=lambda group: (np.abs(group).sum(), group))


def power_group(X, y, noise_level=None):
    """The power-product group of ``y``, or None.

    Needs positive inputs (at least three), a ``y`` of one strict sign, and a fit of
    ``log|y|`` by ``p . log x + g(q . log x)`` within :data:`GROUP_RESIDUAL` (or the
    noise) with ``q`` small integers over at least two inputs and ``p`` halves, that a
    plain monomial (``g`` linear) does not already reach.

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
    from ._noise import finite_level

    n, d = X.shape
    if d < 3 or n < 50 or not np.all(X != 0) or not (np.all(y > 0) or np.all(y < 0)):
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
    best = None
    for start in fit.quadratic_directions()[:2]:
        direction, residual = fit.refined(start)
        if best is None or residual < best[1]:
            best = (direction, residual)
    direction, residual = best
    if residual > threshold:
        return None
    # The direction in the raw logs (the fit's columns are scaled).
    raw = direction / fit.scale
    for group in _integer_groups(raw / np.abs(raw).max()):
        index = np.asarray(group, dtype=float)
        u = L @ index
        prefactor = _prefactor(fit, L, u, index, threshold, signed)
        if prefactor is not None:
            exponents = tuple((i, Fraction(int(v))) for i, v in enumerate(group) if v)
            powers = tuple((i, Fraction(p).limit_denominator(2)) for i, p in enumerate(prefactor) if p)
            return PowerGroup(powers, exponents, residual)
    return None


def _prefactor(fit, L, u, index, threshold, signed):
    """Exponents ``p`` (halves; even integers for the ``signed`` inputs, so that
    ``x**p`` keeps one sign) with ``log|y| - p . L`` a function of ``u``, the fewest
    non-zero first, or None.

    ``p`` is defined up to multiples of the group's exponents, so one input of the
    group (the pivot) gets no power of its own; every pivot is tried.
    """
    index_basis = fit.index_basis(u)
    best = None
    for pivot in np.flatnonzero(index):
        others = [i for i in range(L.shape[1]) if i != pivot]
        design = np.column_stack([index_basis, L[:, others]])
        root = np.sqrt(fit.weight)[:, None]
        coefficients = np.linalg.lstsq(design * root, fit.t * root[:, 0], rcond=None)[0]
        powers = np.zeros(L.shape[1])
        powers[others] = np.round(2 * coefficients[index_basis.shape[1] :]) / 2
        if np.any(powers[signed] % 2):
            continue
        residual = _weighted_residual(index_basis, fit.t - L @ powers, fit.weight)
        if fit.share(residual) > threshold:
            continue
        key = (np.count_nonzero(powers), float(np.abs(powers).sum()))
        if best is None or key < best[0]:
            best = (key, powers)
    return None if best is None else best[1]


def _power_values(X, exponents):
    values = np.ones(len(X))
    for index, power in exponents:
        values = values * X[:, index] ** float(power)
    return values


def _power_expression(symbols, exponents):
    import sympy

    return sympy.Mul(*(symbols[i] ** sympy.Rational(power.numerator, power.denominator) for i, power in exponents))


def _rms(values):
    return float(np.sqrt(np.mean(np.square(values))))


def _log_residual(u, values):
    """Root mean square of what a cubic spline of ``log|u|`` (one per sign of ``u``)
    leaves of ``log|values|``."""
    spline = _spline_basis(np.log(np.abs(u)))
    signs = [u > 0, u < 0]
    design = np.column_stack([mask[:, None] * np.column_stack([np.ones(len(u)), spline]) for mask in signs if mask.any()])
    target = np.log(np.abs(values))
    return _rms(target - design @ np.linalg.lstsq(design, target, rcond=None)[0])


def _orientations(group, u_values, values):
    """``group`` and its inverse, smoother first: ``f(u)`` and ``f(1/u)`` are the same
    law, but one is often far simpler in its own variable (``1 + 1/u`` against
    ``1 + v``), and networks on a coarse grid see what a cubic spline with four even
    knots sees. Ordered by that spline's relative residual."""
    inverse = tuple((index, -power) for index, power in group)
    scores = []
    for u in (u_values, 1.0 / u_values):
        t = (u - u.min()) / max(float(np.ptp(u)), 1e-300)
        knots = [np.clip(t - knot, 0, None) ** 3 for knot in (0.2, 0.4, 0.6, 0.8)]
        design = np.column_stack([np.ones_like(t), t, t**2, t**3] + knots)
        residual = values - design @ np.linalg.lstsq(design, values, rcond=None)[0]
        scores.append(float(np.mean(residual**2)) / max(float(np.var(values)), 1e-300))
    return [group, inverse] if scores[0] <= scores[1] else [inverse, group]


def group_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``x**p * f(x**q)`` for the group of ``spec`` (``spec.monomial`` the
    prefactor ``p``, ``spec.groups[0]`` the group ``q``, exponents as Fractions): ``f``
    discovered on ``y / x**p`` over the one input ``u = x**q`` (or ``1/u``, see
    :func:`_orientations`; the second only when the first finds no formula that fits
    to the noise), every formula simplified against the real rows. Returns the
    candidates and 0 training iterations (the sub-discovery's networks are its own)."""
    import sympy

    from ._factors import _factor_formulas, _simplified_candidates
    from ._noise import finite_level
    from ._trials import EXACT_LOSS

    prefactor, (group,) = spec.monomial, spec.groups
    divisor_fit, divisor_val = _power_values(X_fit, prefactor), _power_values(X_val, prefactor)
    values = (y_fit / divisor_fit, y_val / divisor_val)
    noise_level = finite_level(settings.get("noise_level"))
    # The noise of y / x**p, as one level (its root mean square over the rows), at
    # most what a spline of log u leaves of log|y / x**p|: the estimate from a network
    # of all the inputs can sit far above it on exact data (sqrt(8*pi*G*rho/3 -
    # alpha*c**2/d**2): 6e-4 of y's spread, where the group fits log|y| to 3e-5), and
    # a floor that high stops the sub-discovery at an approximation.
    level = noise_level * float(np.sqrt(np.mean(divisor_fit**-2.0))) if noise_level > 0 else settings.get("noise_level")
    fitted_level = FITTED_NOISE_FACTOR * _log_residual(_power_values(X_fit, group), values[0]) * _rms(values[0])
    level = fitted_level if level is None else min(level, fitted_level)
    # A formula within twice the noise's share of the held-out variance ends the trial.
    enough = max(EXACT_LOSS, 2.0 * (level * _rms(divisor_val)) ** 2 / max(float(np.var(y_val)), 1e-300))
    # One input affords a finer grid, and needs it: u often spans decades, where
    # tanh(u) saturates within the first interval or two of a coarse quantile grid
    # (n*mu*tanh(mu*B/(k_b*T)): not found with 3 intervals, found in 0.4 s with 10).
    sub_settings = {**settings, "grid_size": max(settings["grid_size"], GROUP_GRID_SIZE)}
    u = sympy.Dummy("u", positive=bool(np.all(_power_values(X_fit, group) > 0)) or None)
    outer = _power_expression(symbols, prefactor)
    candidates = []
    for oriented in _orientations(group, _power_values(X_fit, group), values[0]):
        U_fit, U_val = _power_values(X_fit, oriented)[:, None], _power_values(X_val, oriented)[:, None]
        formulas, _ = _factor_formulas([0], values, U_fit, U_val, [u], sub_settings, level, spec.seed)
        inner = _power_expression(symbols, oriented)
        formulas = [outer * formula.subs(u, inner) for formula in formulas]
        candidates += _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings)
        if any(candidate.loss <= enough for candidate in candidates):
            break
    return candidates, 0
