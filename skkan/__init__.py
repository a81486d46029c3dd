"""skkan: Kolmogorov-Arnold Networks as scikit-learn estimators."""

from ._classifier import KANClassifier
from ._pruner import KANPruner
from ._regressor import KANRegressor
from ._symbolic_regressor import KANSymbolicRegressor

__version__ = "0.1.0"

__all__ = ["KANClassifier", "KANPruner", "KANRegressor", "KANSymbolicRegressor", "__version__"]
