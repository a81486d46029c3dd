"""Saving estimators as plain data: one format, one version check, for every estimator.

Pickle, joblib and ``skops.io`` files of skkan estimators hold no torch, sympy or
pandas objects: :func:`dump_state` turns every :class:`skkan.nn.KAN` into
:meth:`~skkan.nn.KAN.to_state`, every tensor into a numpy array, every target object
into its state, and every table of sympy formulas into columns with the formulas as
exact JSON text. ``_skkan_state`` records the format version and which attributes to
turn back. :func:`load_state` reads this format and the earlier ones: version 1
(estimators before target objects) and the pickles that stored torch modules
directly (skkan 0.1.0 before version 1).
"""

import numpy as np
import torch

from ._targets import ClassificationTargets, RegressionTargets, target_type_from_state
from .nn import KAN

__all__ = ["STATE_VERSION", "dump_state", "load_state"]

# Version 2: target objects as states; version 1: networks as KAN.to_state, tensors as
# numpy arrays, formula tables as JSON columns.
STATE_VERSION = 2

_TARGET_TYPES = (RegressionTargets, ClassificationTargets)


def _is_formula_table(value):
    return hasattr(value, "columns") and "equation" in getattr(value, "columns", ())


def dump_state(state):
    """``state`` (an estimator's ``__dict__``) as plain data, with ``_skkan_state``."""
    state = dict(state)
    info = {"version": STATE_VERSION, "modules": [], "tensors": [], "targets": [], "frames": []}
    for key, value in list(state.items()):
        if isinstance(value, KAN):
            state[key] = value.to_state()
            info["modules"].append(key)
        elif isinstance(value, torch.Tensor):
            state[key] = value.detach().cpu().numpy().copy()
            info["tensors"].append(key)
        elif isinstance(value, _TARGET_TYPES):
            state[key] = value.to_state()
            info["targets"].append(key)
        elif _is_formula_table(value):
            from .symbolic._serialize import expression_to_json

            state[key] = {
                "columns": [str(name) for name in value.columns],
                "data": {
                    str(name): [expression_to_json(e) for e in value[name]] if name == "equation" else value[name].to_numpy()
                    for name in value.columns
                },
            }
            info["frames"].append(key)
    state["_skkan_state"] = info
    return state


def load_state(state, owner):
    """The ``__dict__`` that :func:`dump_state` (of this or an earlier version) saved.

    Parameters
    ----------
    state : dict
    owner : str
        The estimator's class name, for error messages.
    """
    state = dict(state)
    info = state.pop("_skkan_state", None)
    if info is None:
        module = state.get("module_")
        if module is not None and not isinstance(module, KAN):
            raise ValueError(
                f"Cannot load this {owner}: its module_ is a {type(module).__name__}, "
                "not a skkan.nn.KAN; the file is not a skkan model or is damaged."
            )
    else:
        version = info.get("version") if isinstance(info, dict) else None
        if not isinstance(version, int) or version > STATE_VERSION:
            raise ValueError(
                f"This {owner} was saved in state format {version!r}; this skkan "
                f"reads formats up to {STATE_VERSION}. Upgrade skkan to load it."
            )
        for key in info.get("modules", ()):
            state[key] = KAN.from_state(state[key])
        for key in info.get("tensors", ()):
            state[key] = torch.from_numpy(np.array(state[key], copy=True))
        for key in info.get("targets", ()):
            state[key] = target_type_from_state(state[key]).from_state(state[key])
        # Version 1 wrote the formula table of KANSymbolicRegressor without listing it.
        frames = info.get("frames", [key for key, value in state.items() if key == "equations_" and isinstance(value, dict)])
        for key in frames:
            state[key] = _load_table(state[key])
    if "module_" in state and "_targets" not in state:
        state["_targets"] = _targets_of_version_1(state)
    return state


def _load_table(table):
    import pandas as pd

    from .symbolic._serialize import expression_from_json

    data = {
        name: [expression_from_json(t) for t in table["data"][name]] if name == "equation" else table["data"][name]
        for name in table["columns"]
    }
    return pd.DataFrame(data, columns=table["columns"])


def _targets_of_version_1(state):
    """The target object of an estimator saved before target objects existed."""
    if "classes_" in state:
        return ClassificationTargets(np.asarray(state["classes_"]))
    targets = RegressionTargets(state.pop("_y_mean"), state.pop("_y_scale"), state.pop("_y_1d"))
    return targets
