"""Formula discovery with sparse KANs: the screen, trials, the Pareto table and
:class:`KANSymbolicRegressor`.

Layered over :mod:`skkan.symbolic` and the training engine (``skkan._training``);
it trains networks through the engine, never through the estimators above it.
"""

from ._estimator import KANSymbolicRegressor

__all__ = ["KANSymbolicRegressor"]
