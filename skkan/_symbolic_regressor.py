"""Where :class:`KANSymbolicRegressor` lived before :mod:`skkan.discovery`.

Pickles and skops files name the module of an estimator's class; files saved by
earlier versions name this one, so it stays to load them.
"""

from .discovery import KANSymbolicRegressor

__all__ = ["KANSymbolicRegressor"]
