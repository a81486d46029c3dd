"""Products of smooth factors fitted by alternating least squares (private).

When ``y`` keeps one sign, ``log|y|`` turns a product into a sum that an additive
KAN learns; a product of signed factors (``m*r*v*sin(theta)`` with signed ``m``,
``r``, ``v``) or of factors with zeros (``q**2*a**2``) has no such target. A product
``y = prod_g F_g(x_g)`` of functions of disjoint groups of inputs is instead
*multilinear* in the factors: with every factor but one held fixed, the best
remaining factor is a linear least-squares fit of a spline basis. Alternating over
the factors (rank-one alternating least squares, as in tensor decompositions)
fits the product in milliseconds, with no network, no logarithm and no positive
range; the held-out residual tells whether ``y`` is such a product. A constant added
to the product (``1 + p*E*cos(theta)/(k*T)``) is one more column of each of those
least-squares fits.

:func:`product_structure` tries every input as its own factor, then groups of two
inputs (a tensor-product spline: ``v / sqrt(1 - v**2/c**2)`` is one factor of
``m_0 * v / sqrt(1 - v**2/c**2)``), greedily; :func:`fit_product` fits given groups.
The factors' values then become sub-problems of fewer inputs for discovery
(:func:`skkan.discovery._factors.product_trial`).
"""

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["ProductFit", "fit_product", "product_structure"]

# B-spline intervals per input of a one-input factor, and per input of a two-input
# factor's tensor-product basis (its size grows with the square). Products of
# 1/c**3 over [1, 5], q**2, sin over a period and the like fit to 1e-9 to 5e-7
# relative with 24 intervals (16: up to 7e-6).
FACTOR_INTERVALS = 24
PAIR_INTERVALS = 7
SPLINE_DEGREE = 3
# Alternating sweeps over the factors from each start (most products converge in
# ten; a square such as q**2 creeps, and Gauss-Newton steps finish it).
MAX_SWEEPS = 30
STALL_SWEEPS = 5
SWEEP_TOL = 0.01
# Joint Levenberg-Marquardt steps after the sweeps of the best start.
GAUSS_NEWTON_STEPS = 30
# Random starting factors tried after the deterministic ones (see _starting_factors),
# and rows of the spectral start (its cost grows with their square).
RANDOM_STARTS = 1
MOMENT_ROWS = 600
# A product is accepted when its held-out relative squared error (mean squared
# residual over the variance of y) is at most this, or within the noise floor. Smooth
# non-products land far above (x0 + x1 over [-1, 1]**2: about 0.3); a nearly
# separable factor (v/sqrt(1 - v**2/c**2) for v < c, as a function of v times one of
# c: about 1e-5) passes, and the merge below finds its grouping.
PRODUCT_RESIDUAL = 1e-4
# Held-out residual of a product of one-input splines that fit to their precision
# (24 intervals: 1e-9 to 5e-7 on the laws measured; no merge is tried below it), and
# the factor by which a merge of two groups must lower the residual to be taken
# (v/sqrt(1 - v**2/c**2) as one factor of v and c: from 1e-5 to 3e-10).
EXACT_PRODUCT = 1e-8
MERGE_GAIN = 10.0
# On noisy data a product is accepted when its held-out mean squared residual is at
# most this many times the noise variance: splines of 24 intervals fit some of the
# noise (q**2*a**2/(e*c**3) at 1 % and 10 % noise: 1.8 and 1.4 times), and the noise
# is itself estimated. A wrong acceptance costs time only; the real rows judge.
NOISE_FACTOR = 2.0
# No fit's held-out mean squared residual falls below the noise variance, so a merge
# (or a constant added to a product), which must lower the residual MERGE_GAIN-fold,
# is not tried once a product fits within the noise (NOISE_FACTOR times the floor) and
# not below this share of it: the floor is estimated, and one far above the residual
# is an overestimate (exact data of many inputs: the Gaussian process errs upwards;
# sub-problems' floors more so), where the search goes on as on exact data. A product
# that does not fit yet is searched on, as the floor may be too high. Nor is a floor
# trusted for a product that leaves more than NOISE_BOUND_RESIDUAL of the variance:
# a sub-problem's floor can exceed the variance itself (``y / n_0`` with a signed
# ``n_0`` near zero on exact data: 2.2 times it), where a product explaining nothing
# passes for one at the noise. On noisy data this skips most of the search's fits.
NOISE_FLOOR_SHARE = 0.5
NOISE_BOUND_RESIDUAL = 0.1
# Groups of at most this many inputs, merged greedily at most MAX_MERGES times.
MAX_GROUP = 2
MAX_MERGES = 2
# A factor whose relative spread is below this is a constant (an input ``y`` ignores):
# a product needs two factors that vary.
CONSTANT_FACTOR = 1e-3


def _bspline_basis(x, n_intervals):
    """Cubic B-spline design matrix of one column on knots at its quantiles and evenly
    spaced (half each), the constant included (the basis sums to one)."""
    from scipy.interpolate import BSpline

    low, high = float(np.min(x)), float(np.max(x))
    if not high > low:
        return np.ones((len(x), 1))
    t = (x - low) / (high - low)
    levels = np.linspace(0.0, 1.0, n_intervals // 2 + 1)[1:-1]
    interior = np.unique(np.round(np.concatenate([np.quantile(t, levels), np.linspace(0, 1, n_intervals - len(levels) + 1)[1:-1]]), 6))
    interior = interior[(interior > 0) & (interior < 1)]
    knots = np.concatenate([np.zeros(SPLINE_DEGREE + 1), interior, np.ones(SPLINE_DEGREE + 1)])
    return BSpline.design_matrix(np.clip(t, 0.0, 1.0), knots, SPLINE_DEGREE).toarray()


def _group_basis(X, group):
    """Basis of one factor: a spline of its input, or the row-wise tensor product of
    two inputs' splines."""
    if len(group) == 1:
        return _bspline_basis(X[:, group[0]], FACTOR_INTERVALS)
    basis = np.ones((len(X), 1))
    for i in group:
        column = _bspline_basis(X[:, i], PAIR_INTERVALS)
        basis = (basis[:, :, None] * column[:, None, :]).reshape(len(X), -1)
    return basis


@dataclass(frozen=True)
class ProductFit:
    """A fitted product ``y ~ prod_g F_g(x_g)``.

    Attributes
    ----------
    groups : tuple of tuple of int
        The inputs of every factor.
    factors : tuple of ndarray
        Every factor's values at the rows the fit was given (training rows first,
        then held-out rows), each scaled to a root mean square of one.
    scale : float
        The product of the factors times ``scale``, plus ``offset``, approximates ``y``.
    residual : float
        Held-out mean squared residual over the variance of ``y``.
    offset : float
        The constant added to the product (0.0 for a pure product).
    """

    groups: tuple
    factors: tuple
    scale: float
    residual: float
    offset: float = 0.0

    @property
    def n_varying(self):
        """How many factors are not constant."""
        return sum(float(np.std(f)) > CONSTANT_FACTOR for f in self.factors)


def _polynomial_basis(X, group):
    """Cubic polynomials of a group's inputs, each scaled to [-1, 1] (tensor products
    for two inputs)."""
    basis = np.ones((len(X), 1))
    for i in group:
        x = X[:, i]
        spread = float(np.max(x) - np.min(x))
        t = 2 * (x - np.min(x)) / spread - 1 if spread > 0 else np.zeros(len(x))
        column = np.column_stack([np.ones(len(x)), t, t**2, t**3])
        basis = (basis[:, :, None] * column[:, None, :]).reshape(len(X), -1)
    return basis


def _moment_start(X, y, groups, n_fit):
    """Starting factors from the moments of ``y`` (a spectral start).

    With one cubic polynomial basis ``p_g`` per group and independent inputs, the
    tensor ``T = E[y * p_1 (x) p_2 (x) ...]`` of a product ``y = prod_g f_g`` is of
    rank one, ``a_1 (x) a_2 (x) ...`` with ``a_g = E[f_g p_g]``. The leading
    eigenvector of ``T``'s unfolding along ``g`` times its transpose is ``a_g``, and
    ``Gram_g^-1 a_g`` the best polynomial of the factor. That matrix is a sum over pairs
    of distinct rows of ``y_i y_j p_g(i) p_g(j)^T prod_{h != g} <p_h(i), p_h(j)>``, so
    ``T`` is never formed. Unlike a start from fixed or random curves, this one sees
    every factor at once, however many average to zero.
    """
    rows = np.arange(min(n_fit, MOMENT_ROWS))
    bases = [_polynomial_basis(X[rows], group) for group in groups]
    kernels = [basis @ basis.T for basis in bases]
    outer = np.outer(y[rows], y[rows])
    np.fill_diagonal(outer, 0.0)  # distinct rows only: the diagonal biases towards y**2
    # Products of all kernels but one, from running products from the left and right.
    left = [np.ones_like(outer)]
    for kernel in kernels[:-1]:
        left.append(left[-1] * kernel)
    right = np.ones_like(outer)
    starts = [None] * len(groups)
    for g in reversed(range(len(groups))):
        weights = outer * left[g] * right
        right = right * kernels[g]
        basis = bases[g]
        moment = basis.T @ weights @ basis
        vector = np.linalg.eigh(moment)[1][:, -1]
        gram = basis.T @ basis / len(rows)
        coefficients = np.linalg.lstsq(gram, vector, rcond=None)[0]
        starts[g] = _polynomial_basis(X, groups[g]) @ coefficients
    return starts


def _starting_factors(X, y, groups, bases, n_fit, seed):
    """Starting factors of the alternating fits: the spectral start of
    :func:`_moment_start`, then ``1 + t`` of each group's first input (``t`` scaled to
    [0, 1]), then random splines.

    From constant factors the first update would fit ``E[y | x_g]``, which vanishes
    when another factor averages to zero (a signed input); fixed or random curves
    correlate weakly with four signed factors, and the sweeps stall.
    """
    yield _moment_start(X, y, groups, n_fit)
    rng = np.random.default_rng(seed)
    scaled = []
    for group in groups:
        x = X[:, group[0]]
        spread = float(np.max(x) - np.min(x))
        scaled.append((x - np.min(x)) / spread if spread > 0 else np.zeros(len(x)))
    yield [1.0 + t for t in scaled]
    for _ in range(RANDOM_STARTS):
        yield [basis @ rng.normal(size=basis.shape[1]) for basis in bases]


def _solve(design, target):
    """Least squares through the normal equations (a tiny ridge keeps them solvable);
    several times faster than an SVD, and precise enough for residuals near 1e-10."""
    gram = design.T @ design
    ridge = 1e-12 * max(float(np.trace(gram)) / len(gram), 1e-300)
    try:
        return np.linalg.solve(gram + ridge * np.eye(len(gram)), design.T @ target)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(design, target, rcond=None)[0]


def _alternate(bases, factors, y_fit, n_fit, max_sweeps, offset=False):
    """Alternating least-squares sweeps from the factors' values ``factors``.

    With ``offset``, a constant added to the product is refitted with every factor
    (one more column of the same least-squares problem).

    Returns every factor's coefficients, the training loss and the constant.
    """
    factors = list(factors)
    coefficients = [None] * len(bases)
    variance = max(float(np.var(y_fit)), 1e-300)
    history = []
    loss = np.inf
    constant = 0.0
    for _ in range(max_sweeps):
        for g, basis in enumerate(bases):
            others = np.ones(len(factors[0]))
            for h, factor in enumerate(factors):
                if h != g:
                    others = others * factor
            design = basis[:n_fit] * others[:n_fit, None]
            if offset:
                solution = _solve(np.column_stack([design, np.ones(n_fit)]), y_fit)
                coefficients[g], constant = solution[:-1], float(solution[-1])
            else:
                coefficients[g] = _solve(design, y_fit)
            factors[g] = basis @ coefficients[g]
            # Keep the factors but the last at unit size: the product neither under-
            # nor overflows, and the last one carries the scale.
            size = float(np.sqrt(np.mean(factors[g] ** 2)))
            if size > 0 and g < len(bases) - 1:
                coefficients[g] = coefficients[g] / size
                factors[g] = factors[g] / size
        loss = float(np.mean((y_fit - constant - np.prod(factors, axis=0)[:n_fit]) ** 2))
        if not np.isfinite(loss) or loss <= 1e-14 * variance:
            break
        history.append(loss)
        # A start that began near a wrong solution creeps: stop it when STALL_SWEEPS
        # sweeps gained less than SWEEP_TOL.
        if len(history) > STALL_SWEEPS and history[-STALL_SWEEPS - 1] - loss <= SWEEP_TOL * loss:
            break
    return coefficients, loss, constant


def _gauss_newton(bases, coefficients, y_fit, n_fit, constant=None):
    """Levenberg-Marquardt steps on all factors at once, from alternating least squares.

    Alternating least squares converges linearly, slowly where a factor is a square
    (``q**2``: a hundred sweeps to 1e-6); joint Gauss-Newton steps converge
    quadratically near the solution. The damping also fixes the scale shared between
    factors, which the residual does not determine. A ``constant`` added to the
    product (None: none) is one more parameter.

    Returns the coefficients, the training loss and the constant.
    """
    fit_bases = [basis[:n_fit] for basis in bases]
    sizes = np.cumsum([0] + [basis.shape[1] for basis in bases])
    coefficients = np.concatenate(list(coefficients) + ([[constant]] if constant is not None else []))

    def evaluate(flat):
        factors = [basis @ flat[sizes[g] : sizes[g + 1]] for g, basis in enumerate(fit_bases)]
        shift = flat[-1] if constant is not None else 0.0
        return factors, float(np.mean((y_fit - shift - np.prod(factors, axis=0)) ** 2))

    factors, loss = evaluate(coefficients)
    damping = 1e-6
    for _ in range(GAUSS_NEWTON_STEPS):
        columns = []
        for g, basis in enumerate(fit_bases):
            others = np.prod([f for h, f in enumerate(factors) if h != g], axis=0) if len(factors) > 1 else 1.0
            columns.append(basis * np.reshape(others, (-1, 1)))
        if constant is not None:
            columns.append(np.ones((n_fit, 1)))
        jacobian = np.hstack(columns)
        residual = y_fit - np.prod(factors, axis=0) - (coefficients[-1] if constant is not None else 0.0)
        gram = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        diagonal = np.diag(gram) + 1e-300
        improved = False
        while damping < 1e8:
            try:
                step = np.linalg.solve(gram + damping * np.diag(diagonal), gradient)
            except np.linalg.LinAlgError:
                damping *= 10
                continue
            new_factors, new_loss = evaluate(coefficients + step)
            if new_loss < loss:
                coefficients, factors, improved = coefficients + step, new_factors, True
                relative_gain = (loss - new_loss) / max(loss, 1e-300)
                loss = new_loss
                damping = max(damping / 10, 1e-12)
                break
            damping *= 10
        if not improved or relative_gain < 1e-6:
            break
    split = [coefficients[sizes[g] : sizes[g + 1]] for g in range(len(bases))]
    return split, loss, float(coefficients[-1]) if constant is not None else 0.0


def fit_product(X, y, groups, n_fit, seed=0, polish=True, offset=False):
    """Rank-one alternating least squares of ``y`` on one spline factor per group.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training rows, then held-out rows.
    y : ndarray of shape (n_samples,)
    groups : sequence of tuple of int
        Disjoint groups of inputs, one factor each (inputs in no group are ignored).
    n_fit : int
        The first ``n_fit`` rows fit the factors; the others measure the residual.
    seed : int
        Seed of the random starting factors.
    polish : bool, default=True
        Try every start and finish with joint Gauss-Newton steps; else one start
        only (a search over groupings compares such quick fits).
    offset : bool, default=False
        Fit ``y ~ a + prod_g F_g(x_g)``, a constant ``a`` added to the product
        (``1 + p*E*cos(theta)/(k*T)``); the starts then see ``y`` less its mean.

    Returns
    -------
    ProductFit
    """
    groups = tuple(tuple(int(i) for i in group) for group in groups)
    bases = [_group_basis(X, group) for group in groups]
    y_fit = y[:n_fit]
    coarse = [_polynomial_basis(X, group) for group in groups]
    best = None
    centred = y - float(np.mean(y_fit)) if offset else y
    for start in itertools.islice(_starting_factors(X, centred, groups, bases, n_fit, seed), None if polish else 1):
        # Coarse to fine: cubic factors first (few coefficients, few spurious
        # solutions), then splines from them. From most starts, splines alone settle
        # on wiggly factors that fit a third of the variance and blow up on held-out rows.
        coefficients, _, _ = _alternate(coarse, start, y_fit, n_fit, MAX_SWEEPS, offset)
        start = [basis @ c for basis, c in zip(coarse, coefficients)]
        coefficients, loss, constant = _alternate(bases, start, y_fit, n_fit, MAX_SWEEPS, offset)
        if best is None or loss < best[1]:
            best = (coefficients, loss, constant)
    coefficients, _, constant = best
    if polish:
        coefficients, _, constant = _gauss_newton(bases, coefficients, y_fit, n_fit, constant if offset else None)
    factors = [basis @ c for basis, c in zip(bases, coefficients)]
    sizes = [float(np.sqrt(np.mean(f**2))) for f in factors]
    scale = float(np.prod(sizes))
    factors = tuple(f / s if s > 0 else f for f, s in zip(factors, sizes))
    rows = slice(n_fit, None) if len(y) > n_fit else slice(None)  # no held-out rows: the training rows
    held_out, predicted = y[rows], (constant + scale * np.prod(factors, axis=0))[rows]
    variance = max(float(np.var(held_out)), 1e-300)
    residual = float(np.mean((held_out - predicted) ** 2)) / variance
    return ProductFit(groups, factors, scale, residual, constant)


def product_structure(X, y, n_fit, noise_variance=0.0, seed=0):
    """The finest product of factors of disjoint groups that fits ``y``, or None.

    Tries every input as its own factor, then merges two groups into a two-input
    factor (the merge that lowers the held-out residual most), at most
    :data:`MAX_MERGES` times, until the held-out relative residual is at most
    :data:`PRODUCT_RESIDUAL` or the held-out mean squared residual is within
    :data:`NOISE_FACTOR` times ``noise_variance``. A product needs at
    least two factors that vary. When no pure product fits, the same search runs
    for a product plus a constant.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training rows, then held-out rows.
    y : ndarray of shape (n_samples,)
    n_fit : int
        Rows that fit the factors (the rest are held out).
    noise_variance : float, default=0.0
        Estimated variance of the noise on ``y``.
    seed : int, default=0

    Returns
    -------
    ProductFit or None
    """
    from ..nn._threads import limited_threads

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # One thread: the solves are small, and threads only contend (measured: 30 to 60
    # times slower when both cores are busy).
    with limited_threads(1):
        return _product_structure(X, y, n_fit, noise_variance, seed)


def _product_structure(X, y, n_fit, noise_variance, seed):
    n_features = X.shape[1]
    if n_features < 2 or len(y) <= n_fit or not np.var(y) > 0:
        return None
    variance = float(np.var(y[n_fit:]))
    noise_floor = noise_variance / max(variance, 1e-300)  # relative to the variance, as residuals are

    def fits(fit):
        close = fit.residual <= PRODUCT_RESIDUAL or fit.residual * variance <= NOISE_FACTOR * noise_variance
        return close and fit.n_varying >= 2

    # A pure product first; then a product plus a constant (1 + x*y*z), which also
    # covers every pure product, so it is tried only when no pure product fits
    # exactly, and taken when it fits and lowers the residual as a merge must (a pure
    # product of six factors passes for 1 + p*E*cos(theta)/(k*T) at 1e-5).
    pure = _grouped_fit(X, y, n_fit, seed, offset=False, noise_floor=noise_floor)
    if (pure.residual <= EXACT_PRODUCT or _at_noise_floor(pure.residual, noise_floor)) and fits(pure):
        return pure
    shifted = _grouped_fit(X, y, n_fit, seed, offset=True, noise_floor=noise_floor)
    if fits(shifted) and (not fits(pure) or shifted.residual * MERGE_GAIN <= pure.residual):
        return shifted
    return pure if fits(pure) else None


def _at_noise_floor(residual, noise_floor):
    """Whether a relative held-out residual is at the relative ``noise_floor``: within
    the noise (:data:`NOISE_FACTOR` times the floor), so that no fit can lower it
    MERGE_GAIN-fold, yet not so far below the floor that it must be an overestimate
    (see :data:`NOISE_FLOOR_SHARE`), and leaving at most :data:`NOISE_BOUND_RESIDUAL`."""
    ceiling = min(NOISE_FACTOR * noise_floor, NOISE_BOUND_RESIDUAL)
    return NOISE_FLOOR_SHARE * noise_floor <= residual <= ceiling and noise_floor > 0


def _grouped_fit(X, y, n_fit, seed, offset, noise_floor=0.0):
    """Every input its own factor, then greedy merges into two-input factors (none
    once the relative held-out residual is at the relative ``noise_floor``)."""
    groups = [(i,) for i in range(X.shape[1])]
    fit = fit_product(X, y, groups, n_fit, seed, offset=offset)
    for _ in range(MAX_MERGES):
        if len(groups) <= 2 or fit.residual <= EXACT_PRODUCT or _at_noise_floor(fit.residual, noise_floor):
            break  # one group is no product; an exact fit, or one at the noise, gains nothing
        options = []
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if len(groups[a]) + len(groups[b]) <= MAX_GROUP:
                    merged = [g for k, g in enumerate(groups) if k not in (a, b)] + [groups[a] + groups[b]]
                    grouping = sorted(tuple(sorted(g)) for g in merged)
                    options.append(fit_product(X, y, grouping, n_fit, seed, polish=False, offset=offset))
        best = min(options, key=lambda option: option.residual, default=None)
        # A merge must explain most of what is left: on noisy data no merge beats the
        # noise, and a coarser two-input basis fits an exact product no better.
        if best is None or best.residual * MERGE_GAIN > fit.residual:
            break
        fit, groups = fit_product(X, y, best.groups, n_fit, seed, offset=offset), list(best.groups)
    return fit
