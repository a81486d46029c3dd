"""The noise floor of a target, and statistical comparisons of held-out errors.

Formula discovery needs to know when a formula is as good as the data allow:

* :func:`estimate_noise` estimates the standard deviation of the noise on ``y`` from
  a Gaussian process with a white-noise term (an RBF kernel with one length scale per
  standardised input), fitted by maximum likelihood on a few hundred rows: a flexible
  smooth model whose white-noise level is the part of ``y`` that no smooth function
  of ``X`` explains. On noiseless smooth data it is tiny (about ``1e-6`` of the
  spread of ``y`` for the laws of one to three inputs tried, up to ``1e-2`` with nine); with noise it is within
  a few percent of the truth. Where the process underfits (many inputs, few rows) it
  errs upwards, so the caller also takes the held-out error of its best formula.
  On noisy data it averages the noise variances of up to :data:`NOISE_SUBSETS`
  processes on disjoint rows: one process's variance is low by 11 % or more in one
  case of twenty (the benchmark's development laws at 1 % and 10 % noise), and a
  floor set that low keeps an exact law from ending discovery.
* :func:`within_noise` says whether a formula's held-out mean squared error is
  indistinguishable from the noise floor: under Gaussian noise, ``n * mse / sigma**2``
  is chi-squared with ``n`` degrees of freedom, and the floor itself is estimated.
* :func:`indistinguishable` is a one-sided paired test on the per-row squared errors
  of two formulas on the same held-out rows.

Squared errors are floored at :data:`skkan.symbolic._simplify.LOSS_FLOOR` times the
variance of ``y`` so that float rounding, which differs between machines, never
decides between two formulas that are both exact.
"""

import functools
import math
import warnings

import numpy as np

from ..symbolic._simplify import LOSS_FLOOR, evaluate, not_significantly_worse

__all__ = ["estimate_noise", "finite_level", "indistinguishable", "noise_rows", "squared_errors", "within_noise"]

#: Rows of the Gaussian process (its cost grows with their cube: 0.1-0.25 s of one
#: core for one to nine inputs; 400 rows cost twice as much for no better estimate).
NOISE_ROWS = 300
#: Disjoint sets of :data:`NOISE_ROWS` rows whose estimates noisy data average.
NOISE_SUBSETS = 3
#: A first estimate under this fraction of the spread of ``y`` is no noise to average.
_NOISELESS = 1e-3
#: Standard normal quantile of the tests (one-sided, about 2 %).
Z = 2.0
# Iterations of the likelihood's optimiser (it converges in a few dozen).
_MAX_ITER = 100


def finite_level(noise_level):
    """An estimated noise level as a number: 0.0 where it is missing (None) or not finite."""
    return noise_level if noise_level is not None and math.isfinite(noise_level) else 0.0


def quotient_noise_level(noise_level, divisor):
    """The noise level of ``y / divisor`` where ``y``'s is ``noise_level``: one level for
    all rows, the root mean square of ``noise_level / divisor``. None stays None."""
    if noise_level is None:
        return None
    return noise_level * float(np.sqrt(np.mean(np.asarray(divisor, dtype=np.float64) ** -2.0)))


def noise_rows(n_samples, max_rows=NOISE_ROWS, subsets=NOISE_SUBSETS):
    """Rows behind :func:`estimate_noise`'s estimate on noisy data of ``n_samples`` rows."""
    return int(min(n_samples, max_rows * subsets))


def estimate_noise(X, y, random_state=0, max_rows=NOISE_ROWS, subsets=NOISE_SUBSETS):
    """Estimated standard deviation of the noise on ``y`` (in ``y``'s units).

    A Gaussian process (constant times an RBF kernel with one length scale per input,
    plus white noise) is fitted by maximum likelihood to at most ``max_rows`` rows
    drawn with ``random_state``, on standardised inputs and target; its white-noise
    level is the estimate. Where that level shows noise, processes on up to
    ``subsets - 1`` further disjoint sets of rows (:func:`noise_rows` rows in all)
    are fitted too and their variances averaged. Returns 0.0 for a constant target
    and NaN when the first fit fails.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    spread = float(np.std(y))
    if len(y) < 3 or not spread > 0:
        return 0.0
    parts = [np.arange(len(y))]
    if len(y) > max_rows:
        rng = np.random.default_rng(random_state)
        first_rows = rng.choice(len(y), max_rows, replace=False)
        rest = rng.permutation(np.setdiff1d(np.arange(len(y)), first_rows))[: noise_rows(len(y), max_rows, subsets) - max_rows]
        parts = [first_rows, *np.array_split(rest, -(-len(rest) // max_rows))] if len(rest) else [first_rows]
    first, smooth = _white_noise_variance(X[np.sort(parts[0])], y[np.sort(parts[0])])
    if not math.isfinite(first) or first <= _NOISELESS**2 * spread**2 or len(parts) == 1:
        return math.sqrt(first) if math.isfinite(first) else math.nan
    # The other sets keep the first process's smooth part and fit only its noise: a
    # fit of one parameter, several times quicker.
    variances = [first] + [_white_noise_variance(X[np.sort(rows)], y[np.sort(rows)], smooth)[0] for rows in parts[1:]]
    # Weighted by rows; a failed fit of a later subset is left out.
    kept = [(v, len(rows)) for v, rows in zip(variances, parts) if math.isfinite(v)]
    return math.sqrt(sum(v * n for v, n in kept) / sum(n for _, n in kept))


#: Bounds of the process's parameters: the smooth part's amplitude and length scales
#: (on standardised inputs and target) and the white-noise level.
_AMPLITUDE_BOUNDS = (1e-3, 1e3)
_LENGTH_SCALE_BOUNDS = (1e-2, 1e3)
_NOISE_BOUNDS = (1e-12, 1e1)
#: Jitter on the diagonal (scikit-learn's ``GaussianProcessRegressor(alpha=...)``).
_JITTER = 1e-10


def _white_noise_variance(X, y, smooth=None):
    """The white-noise variance (in ``y``'s units squared) of a Gaussian process fitted
    to ``(X, y)``, or NaN when the fit fails; and the process's smooth part, the pair
    ``(amplitude, length_scales)`` on standardised inputs and target.

    ``smooth``: such a pair to keep fixed (only the noise is then fitted).

    The model is scikit-learn's ``ConstantKernel * RBF + WhiteKernel`` fitted by
    ``GaussianProcessRegressor`` from amplitude 1, length scales 1 and noise 0.01,
    with the same bounds and objective; the likelihood and its gradient are computed
    here because scikit-learn's kernels build an ``(n, n, n_inputs)`` gradient tensor
    at every step, which made this estimate a tenth of a formula's discovery time.
    """
    from scipy.optimize import minimize

    from ..nn._threads import limited_threads

    spread = float(np.std(y))
    if not spread > 0:
        return 0.0, smooth
    scale = np.std(X, axis=0)
    scale[scale == 0] = 1.0
    inputs = (X - np.mean(X, axis=0)) / scale
    target = (y - np.mean(y)) / spread
    if smooth is None:
        initial = np.log(np.r_[1.0, np.ones(X.shape[1]), 1e-2])
        bounds = np.log([_AMPLITUDE_BOUNDS] + [_LENGTH_SCALE_BOUNDS] * X.shape[1] + [_NOISE_BOUNDS])
        objective = functools.partial(_negative_log_likelihood, inputs=inputs, target=target)
    else:
        amplitude, length_scales = smooth
        fixed = amplitude * _rbf(inputs / length_scales)
        initial, bounds = np.log([1e-2]), np.log([_NOISE_BOUNDS])
        objective = functools.partial(_negative_log_likelihood_of_noise, smooth=fixed, target=target)
    try:
        # One thread: the matrices are small, and threads only contend.
        with warnings.catch_warnings(), limited_threads(1), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = minimize(objective, initial, jac=True, method="L-BFGS-B", bounds=bounds,
                              options={"maxiter": _MAX_ITER})
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return math.nan, smooth
    theta = np.exp(result.x)
    if smooth is None:
        smooth = (float(theta[0]), theta[1:-1])
    level = float(theta[-1])
    return (level * spread**2 if math.isfinite(level) and math.isfinite(result.fun) else math.nan), smooth


def _rbf(scaled):
    """The RBF kernel matrix of rows already divided by their length scales."""
    from scipy.spatial.distance import pdist, squareform

    kernel = squareform(np.exp(-0.5 * pdist(scaled, metric="sqeuclidean")))
    np.fill_diagonal(kernel, 1.0)
    return kernel


def _likelihood_terms(smooth, noise, target):
    """``(-log marginal likelihood, W)`` of a zero-mean process of covariance ``K =
    smooth + (noise + jitter) I``, where ``W = alpha alpha^T - K^-1`` gives the gradient:
    ``d(-lml)/d theta = -sum(W * dK/d theta) / 2``; None where ``K`` is not positive
    definite."""
    from scipy.linalg import cho_solve, cholesky
    from scipy.linalg.lapack import dpotri

    covariance = smooth.copy()
    covariance[np.diag_indices_from(covariance)] += noise + _JITTER
    try:
        lower = cholesky(covariance, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    alpha = cho_solve((lower, True), target, check_finite=False)
    value = 0.5 * target @ alpha + np.log(np.diag(lower)).sum() + 0.5 * len(target) * math.log(2 * math.pi)
    # The inverse from the factor (LAPACK's potri fills one triangle): a third of the
    # work of solving against the identity.
    inverse, info = dpotri(lower, lower=1)
    if info:
        return None
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    return value, np.outer(alpha, alpha) - inverse


def _negative_log_likelihood(theta, inputs, target):
    """Objective and gradient in ``theta = log(amplitude, length scales..., noise)``."""
    amplitude, length_scales, noise = np.exp(theta[0]), np.exp(theta[1:-1]), np.exp(theta[-1])
    scaled = inputs / length_scales
    smooth = amplitude * _rbf(scaled)
    terms = _likelihood_terms(smooth, noise, target)
    if terms is None:
        return np.inf, np.zeros_like(theta)
    value, weights = terms
    weighted = weights * smooth
    # d K_ij / d log l_k = K_ij (u_ik - u_jk)**2 with u = x / l, summed against the
    # symmetric weights: 2 sum_i u_ik**2 (row sums)_i - 2 u_k^T weighted u_k.
    row_sums = weighted.sum(axis=1)
    length_gradient = 2.0 * (scaled**2).T @ row_sums - 2.0 * np.sum(scaled * (weighted @ scaled), axis=0)
    gradient = np.r_[weighted.sum(), length_gradient, noise * np.trace(weights)]
    return value, -0.5 * gradient


def _negative_log_likelihood_of_noise(theta, smooth, target):
    """Objective and gradient in ``theta = [log noise]`` with the smooth part fixed."""
    noise = np.exp(theta[0])
    terms = _likelihood_terms(smooth, noise, target)
    if terms is None:
        return np.inf, np.zeros_like(theta)
    value, weights = terms
    return value, np.array([-0.5 * noise * np.trace(weights)])


def squared_errors(expression, symbols, X, y, variance):
    """Per-row squared errors of ``expression`` on ``(X, y)``, floored at
    ``LOSS_FLOOR * variance`` (non-finite predictions count as infinitely wrong)."""
    prediction = evaluate(expression, symbols, X)
    with np.errstate(all="ignore"):
        errors = (prediction - y) ** 2
    errors = np.where(np.isfinite(errors), errors, np.inf)
    return np.maximum(errors, LOSS_FLOOR * variance)


def within_noise(errors, noise_variance, n_noise_rows=NOISE_ROWS, z=Z):
    """Whether the mean of ``errors`` is indistinguishable from ``noise_variance``.

    Under Gaussian noise of that variance, the mean of ``n`` squared errors of the
    true law has relative standard deviation ``sqrt(2 / n)``; the variance itself was
    estimated from about ``n_noise_rows`` rows. The mean may exceed the floor by ``z``
    combined standard deviations.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if not len(errors) or not np.all(np.isfinite(errors)) or not noise_variance >= 0:
        return False
    margin = z * math.sqrt(2.0 / len(errors) + 2.0 / max(n_noise_rows, 1))
    return bool(np.mean(errors) <= noise_variance * (1.0 + margin))


def indistinguishable(errors, best_errors, z=Z):
    """Whether ``errors`` are not significantly larger than ``best_errors``.

    One-sided paired test on the per-row differences (the same held-out rows): the
    mean difference is at most ``z`` standard errors above zero
    (:func:`skkan.symbolic._simplify.not_significantly_worse`, which simplification
    uses to drop terms).
    """
    return not_significantly_worse(errors, best_errors, z, min_rows=1)
