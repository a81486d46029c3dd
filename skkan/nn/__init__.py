"""The PyTorch core of skkan: B-spline basis, KAN layer and network (no scikit-learn)."""

from .basis import SplineTables, bspline_basis, make_extended_grid, spline_tables, uniform_grid
from .layer import KANLayer, weighted_quantiles
from .network import KAN, register_function_codec

__all__ = [
    "KAN",
    "KANLayer",
    "SplineTables",
    "bspline_basis",
    "make_extended_grid",
    "register_function_codec",
    "spline_tables",
    "uniform_grid",
    "weighted_quantiles",
]
