"""skkan: Kolmogorov-Arnold Networks as scikit-learn estimators."""

from ._classifier import KANClassifier
from ._regressor import KANRegressor
from .discovery import KANSymbolicRegressor
from .symbolic._formula import FormulaReport

__version__ = "0.1.0"

__all__ = ["FormulaReport", "KANClassifier", "KANPruner", "KANRegressor", "KANSymbolicRegressor", "__version__"]


def __getattr__(name):
    # KANPruner derives from sklearn.feature_selection.SelectorMixin, and importing
    # sklearn.feature_selection loads sklearn.neighbors, linear_model, metrics and
    # model_selection (about 0.1 s): load it on first use only (PEP 562).
    if name == "KANPruner":
        from ._pruner import KANPruner

        return KANPruner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
