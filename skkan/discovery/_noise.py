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

import math
import warnings

import numpy as np

from ..symbolic._simplify import LOSS_FLOOR, evaluate, not_significantly_worse

__all__ = ["estimate_noise", "finite_level", "indistinguishable", "noise_rows", "squared_errors", "within_noise"]

#: Rows of the Gaussian process (its cost grows with their cube: 0.1-0.7 s of one
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


def _optimizer(objective, initial, bounds):
    from scipy.optimize import minimize

    result = minimize(objective, initial, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": _MAX_ITER})
    return result.x, result.fun


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


def _white_noise_variance(X, y, smooth=None):
    """The white-noise variance (in ``y``'s units squared) of a Gaussian process fitted
    to ``(X, y)``, or NaN when the fit fails; and the process's fitted smooth kernel.

    ``smooth``: a smooth kernel to keep fixed (only the noise is then fitted).
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from threadpoolctl import threadpool_limits

    spread = float(np.std(y))
    if not spread > 0:
        return 0.0, smooth
    scale = np.std(X, axis=0)
    scale[scale == 0] = 1.0
    inputs = (X - np.mean(X, axis=0)) / scale
    target = (y - np.mean(y)) / spread
    if smooth is None:
        smooth = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(X.shape[1]), (1e-2, 1e3))
    else:
        smooth = smooth.clone_with_theta(smooth.theta)
        for name in ("k1__constant_value_bounds", "k2__length_scale_bounds"):
            smooth.set_params(**{name: "fixed"})
    model = GaussianProcessRegressor(smooth + WhiteKernel(1e-2, (1e-12, 1e1)), alpha=1e-10, optimizer=_optimizer,
                                     random_state=0)
    try:
        # One thread: the matrices are small, and threads only contend.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            model.fit(inputs, target)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return math.nan, smooth
    level = float(model.kernel_.k2.noise_level)
    return (level * spread**2 if math.isfinite(level) else math.nan), model.kernel_.k1


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
