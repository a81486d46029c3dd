"""The PyTorch core of skkan: B-spline basis, KAN layer and network (no scikit-learn)."""

from .basis import bspline_basis, make_extended_grid, uniform_grid
from .layer import KANLayer, weighted_quantiles
from .network import KAN

__all__ = ["KAN", "KANLayer", "bspline_basis", "make_extended_grid", "uniform_grid", "weighted_quantiles"]
