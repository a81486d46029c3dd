"""Input checks and the estimators' own input scaling.

The estimators take raw features: every column is centred and scaled, then clipped to
the range seen in training. The statistics are robust to a few extreme cells: they
are computed on the column winsorised at fences around its 0.1 % - 99.9 % range, so
one value of 1e30 neither squashes the rest of its column to zero nor stretches the
spline grids, while a column without such outliers is scaled exactly by its mean and
standard deviation.
"""

import warnings

import numpy as np
import torch

from .nn import weighted_quantiles

__all__ = ["InputScaler", "check_numeric_columns", "weighted_mean_std"]

# Quantile levels whose range defines the fences (each end moved in by at least one
# row, so that on small data a single extreme cell is outside them too).
_TAIL_LEVEL = 0.001
# Fences sit this many ranges beyond the 0.1 % - 99.9 % quantiles; values beyond are
# clipped when the statistics are computed and in training.
_FENCE_FACTOR = 1.0
# A value this many ranges beyond is reported as an extreme outlier.
_WARN_FACTOR = 1000.0
# Statistics of larger data come from a random subset of this many rows.
_STATS_ROWS = 100_000


def check_numeric_columns(X):
    """Raise a helpful error for string or categorical columns of a DataFrame or array.

    scikit-learn's own message (``could not convert string to float: 'x'``) names
    neither the column nor the fix.
    """
    if hasattr(X, "dtypes") and hasattr(X, "columns"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype

        bad = [
            str(name)
            for (name, dtype), j in zip(X.dtypes.items(), range(X.shape[1]))
            if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype) or (is_object_dtype(dtype) and _holds_numbers(X.iloc[:, j])))
        ]
        if bad:
            raise ValueError(_non_numeric_message(bad, "column" if len(bad) == 1 else "columns"))
        return
    if isinstance(X, np.ndarray) and X.dtype.kind in "OUS" and X.ndim == 2:
        bad = []
        for j in range(X.shape[1]):
            try:
                np.asarray(X[:, j], dtype=np.float64)
            except ValueError:  # strings; other objects keep numpy's TypeError
                bad.append(str(j))
        if bad:
            raise ValueError(_non_numeric_message(bad, "column index" if len(bad) == 1 else "column indices"))


def _holds_numbers(column):
    """Whether an object column holds only numbers (or missing values): it converts as is."""
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _non_numeric_message(columns, what):
    listed = ", ".join(repr(c) for c in columns[:5]) + (" ..." if len(columns) > 5 else "")
    several = len(columns) > 1
    return (
        f"KAN estimators need numeric input, but {what} {listed} hold{'' if several else 's'} "
        "strings or categories. Encode them first, for example with "
        "sklearn.preprocessing.OneHotEncoder or OrdinalEncoder inside a "
        "sklearn.compose.ColumnTransformer, in a Pipeline before the KAN."
    )


class InputScaler:
    """Robust per-column centring, scaling and clipping of raw features.

    Attributes
    ----------
    center, scale : ndarray of shape (n_features,)
        Mean and standard deviation of every column, winsorised at its fences.
    low, high : ndarray of shape (n_features,)
        Range of the scaled training data (within the fences): inputs are clipped to
        it, so first-layer curves stay at their boundary values beyond it.
    """

    def __init__(self, center, scale, low, high):
        self.center, self.scale, self.low, self.high = center, scale, low, high

    @classmethod
    def fit(cls, X, sample_weight, random_state):
        """Statistics of ``X`` (rows of zero weight ignored).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        sample_weight : ndarray of shape (n_samples,)
        random_state : numpy.random.RandomState
            Picks the subset of rows for the statistics of data larger than 100,000 rows.
        """
        positive = sample_weight > 0
        if not positive.all():
            X, sample_weight = X[positive], sample_weight[positive]
        minimum, maximum = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
        if X.shape[0] > _STATS_ROWS:
            rows = np.sort(random_state.choice(X.shape[0], _STATS_ROWS, replace=False))
            X, sample_weight = X[rows], sample_weight[rows]
        values = np.array(X, dtype=np.float64)  # a writable copy of at most 100,000 rows
        n = values.shape[0]
        tail = min(0.5, max(_TAIL_LEVEL, 1.0 / max(n - 1, 1)))
        lower_q, upper_q = (
            weighted_quantiles(
                torch.from_numpy(values), torch.from_numpy(np.asarray(sample_weight, dtype=np.float64)),
                torch.tensor([tail, 1.0 - tail], dtype=torch.float64),
            )
            .numpy()
        )
        spread = upper_q - lower_q
        has_spread = spread > 0
        fence_low = np.where(has_spread, lower_q - _FENCE_FACTOR * spread, minimum)
        fence_high = np.where(has_spread, upper_q + _FENCE_FACTOR * spread, maximum)
        extreme = has_spread & (
            (minimum < lower_q - _WARN_FACTOR * spread) | (maximum > upper_q + _WARN_FACTOR * spread)
        )
        if extreme.any():
            columns = np.flatnonzero(extreme)
            warnings.warn(
                f"Column(s) {columns[:10].tolist()} hold extreme outliers (values more than "
                f"{_WARN_FACTOR:g} times the 0.1%-99.9% range beyond it, e.g. "
                f"{[float(v) for v in np.where(np.abs(minimum) > np.abs(maximum), minimum, maximum)[columns[:3]]]}). "
                "They are clipped to the column's fences for training and prediction; check "
                "the data for entry errors or transform the column.",
                UserWarning,
                stacklevel=4,
            )
        center, scale = weighted_mean_std(np.clip(values, fence_low, fence_high), sample_weight)
        low = (np.maximum(minimum, fence_low) - center) / scale
        high = (np.minimum(maximum, fence_high) - center) / scale
        return cls(center, scale, low, high)

    def transform(self, X):
        """Scaled and clipped ``X`` as float64 numpy."""
        return np.clip((np.asarray(X, dtype=np.float64) - self.center) / self.scale, self.low, self.high)

    def transform_tensor(self, x, dtype):
        """Scaled and clipped rows of a raw tensor, computed in float64, cast to ``dtype``."""
        as64 = lambda a: torch.as_tensor(a, dtype=torch.float64, device=x.device)  # noqa: E731
        scaled = (x.to(torch.float64) - as64(self.center)) / as64(self.scale)
        return torch.clamp(scaled, as64(self.low), as64(self.high)).to(dtype)


def weighted_mean_std(values, weights):
    """Weighted mean and standard deviation of every column (unit scale if constant)."""
    mean = np.average(values, axis=0, weights=weights)
    variance = np.average((values - mean) ** 2, axis=0, weights=weights)
    scale = np.sqrt(variance)
    # Constant columns keep a unit scale, as StandardScaler does.
    scale = np.where(scale < 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean)), 1.0, scale)
    return mean, scale
