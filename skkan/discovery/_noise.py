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

from ..symbolic._simplify import LOSS_FLOOR, evaluate

__all__ = ["estimate_noise", "finite_level", "indistinguishable", "squared_errors", "within_noise"]

#: Rows of the Gaussian process (its cost grows with their cube: 0.1-0.7 s of one
#: core for one to nine inputs; 400 rows cost twice as much for no better estimate).
NOISE_ROWS = 300
#: Standard normal quantile of the tests (one-sided, about 2 %).
Z = 2.0
# Iterations of the likelihood's optimiser (it converges in a few dozen).
_MAX_ITER = 100


def finite_level(noise_level):
    """An estimated noise level as a number: 0.0 where it is missing (None) or not finite."""
    return noise_level if noise_level is not None and math.isfinite(noise_level) else 0.0

def _optimizer(objective, initial, bounds):
    from scipy.optimize import minimize

    result = minimize(objective, initial, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": _MAX_ITER})
    return result.x, result.fun


def estimate_noise(X, y, random_state=0, max_rows=NOISE_ROWS):
    """Estimated standard deviation of the noise on ``y`` (in ``y``'s units).

    A Gaussian process (constant times an RBF kernel with one length scale per input,
    plus white noise) is fitted by maximum likelihood to at most ``max_rows`` rows
    drawn with ``random_state``, on standardised inputs and target; its white-noise
    level is the estimate. Returns 0.0 for a constant target and NaN when the fit
    fails.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    spread = float(np.std(y))
    if len(y) < 3 or not spread > 0:
        return 0.0
    if len(y) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(y), max_rows, replace=False))
        X, y = X[rows], y[rows]
    scale = np.std(X, axis=0)
    scale[scale == 0] = 1.0
    inputs = (X - np.mean(X, axis=0)) / scale
    target = (y - np.mean(y)) / spread
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(X.shape[1]), (1e-2, 1e3)) + WhiteKernel(
        1e-2, (1e-12, 1e1)
    )
    model = GaussianProcessRegressor(kernel, alpha=1e-10, optimizer=_optimizer, random_state=0)
    try:
        # One thread: the matrices are small, and threads only contend.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            model.fit(inputs, target)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return math.nan
    level = float(model.kernel_.k2.noise_level)
    return math.sqrt(level) * spread if math.isfinite(level) else math.nan


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
    mean difference is at most ``z`` standard errors above zero.
    """
    errors = np.asarray(errors, dtype=np.float64)
    best_errors = np.asarray(best_errors, dtype=np.float64)
    if not np.all(np.isfinite(errors)):
        return False
    difference = errors - best_errors
    mean = float(np.mean(difference))
    if mean <= 0:
        return True
    spread = float(np.std(difference, ddof=1)) if len(difference) > 1 else 0.0
    return bool(mean <= z * spread / math.sqrt(len(difference)))
