"""Symbolic work on KANs: the function library, edge fits, snapping, formulas.

Layered over :mod:`skkan.nn` (torch only) and under the estimators: nothing here
imports scikit-learn estimators. The public names are the library
(:data:`LIBRARY`, :class:`SymbolicFunction`, :func:`make_library`) and the edge
fit (:func:`fit_symbolic`, :func:`rank_candidates`); snapping whole networks
(``_snapping``), formula assembly (``_formula``), simplification against data
(``_simplify``) and exact JSON of expressions (``_serialize``) serve the estimators.
"""

from ..nn import register_function_codec
from ._fit import SymbolicFit, fit_symbolic, rank_candidates
from ._library import LIBRARY, SymbolicFunction, function_from_spec, function_to_spec, make_library

__all__ = [
    "LIBRARY",
    "SymbolicFit",
    "SymbolicFunction",
    "fit_symbolic",
    "function_from_spec",
    "function_to_spec",
    "make_library",
    "rank_candidates",
]

# Saved networks describe their symbolic edges as plain data (KAN.to_state).
register_function_codec(function_to_spec, function_from_spec)


def __getattr__(name):
    # Models pickled before skkan.symbolic became a package name the library's private
    # torch and numpy forms as attributes of skkan.symbolic (PEP 562 fallback).
    from . import _library

    if name.startswith("_") and not name.startswith("__") and hasattr(_library, name):
        return getattr(_library, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
