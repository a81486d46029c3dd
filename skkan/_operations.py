"""Operations on a fitted network, shared by the estimators and formula discovery.

A :class:`FittedNetwork` is what a fit leaves behind: the trained module, the input
scaling, the target object, and the training rows that attribution scores, snapping
and formulas are computed on. The functions here read it and return new modules and
records; they never change it, so an estimator commits a result only when an
operation has succeeded (no half-changed model).
"""

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ._training import thread_limit_for
from .symbolic import make_library
from .symbolic._formula import build_formulas
from .symbolic._simplify import expand_exactly
from .symbolic._snapping import fix_edge, retrain, snap_network, suggest_edge

__all__ = [
    "FittedNetwork",
    "attribution_scores",
    "fix_symbolic",
    "formula_fidelity",
    "formulas",
    "prune",
    "snap",
    "suggest_symbolic",
]

# Rows auto_symbolic retrains on (a random subset of larger data).
RETRAIN_ROWS = 4096


@dataclass
class FittedNetwork:
    """A trained network and what its operations need to know about the training data.

    Attributes
    ----------
    module : skkan.nn.KAN
        The network as trained (any device and precision).
    scaler : InputScaler
        The input scaling of the fit (raw features -> network inputs).
    targets : RegressionTargets or ClassificationTargets
        The fitted target object (network outputs -> the user's units).
    attribution_x, attribution_weight : torch.Tensor
        Up to 4096 evenly spaced training rows (network inputs) and their weights.
    """

    module: object
    scaler: object
    targets: object
    attribution_x: torch.Tensor
    attribution_weight: torch.Tensor

    def cpu64(self):
        """A float64 CPU copy of the module: formulas and scores do not depend on the device."""
        copied = copy.deepcopy(self.module).to(device=torch.device("cpu"), dtype=torch.float64)
        copied.eval()
        return copied

    def on_module_device(self, module):
        """``module`` moved to the device and precision of the trained module."""
        parameter = next(self.module.parameters())
        return module.to(device=parameter.device, dtype=parameter.dtype)

    def training_rows(self):
        """The attribution rows in the user's units (float64)."""
        return self.attribution_x.double().numpy() * self.scaler.scale + self.scaler.center


def attribution_scores(network, cpu_module):
    """pykan's node and edge scores on the attribution rows, and input importances."""
    x = network.attribution_x.to(torch.float64)
    weight = network.attribution_weight.to(torch.float64)
    node_scores, edge_scores = cpu_module.attribution(x, sample_weight=weight)
    node_scores = [s.double().cpu().numpy() for s in node_scores]
    edge_scores = [s.double().cpu().numpy() for s in edge_scores]
    total = node_scores[0].sum()
    if not np.isfinite(total) or total <= 0:
        importances = np.full(node_scores[0].shape, 1.0 / node_scores[0].size)
    else:
        importances = node_scores[0] / total
    return node_scores, edge_scores, importances


def prune(network, node_threshold, edge_threshold):
    """A pruned copy of the module (pykan's prune on the attribution rows)."""
    module = copy.deepcopy(network.module)
    parameter = next(module.parameters())
    x = network.attribution_x.to(parameter.device, parameter.dtype)
    weight = network.attribution_weight.to(parameter.device, parameter.dtype)
    module.prune(x, node_threshold=node_threshold, edge_threshold=edge_threshold, sample_weight=weight)
    return module


def snap(network, library, r2_threshold, weight_simple, retrain_data=None, max_iter=200, refit_first=False,
         random_state=None, readable=False):
    """Every active edge snapped to the library, then the rest retrained on data.

    Parameters
    ----------
    retrain_data : tuple (X_scaled, encoded_targets, sample_weight) or None
        Network inputs, encoded targets and weights to retrain on; at most
        :data:`RETRAIN_ROWS` of them are used (a random subset seeded by
        ``random_state`` beyond that).
    readable : bool
        Only closed forms a person can read over the data (see
        :func:`skkan.symbolic._snapping.readable_fits`).

    Returns
    -------
    module, records
        The snapped module (on the trained module's device) and one record per edge.
    """
    from sklearn.utils import check_random_state

    entries = make_library(library)
    work = network.cpu64()
    refit = None
    if retrain_data is not None:
        X_scaled, encoded, sample_weight = retrain_data
        if len(X_scaled) > RETRAIN_ROWS:
            # Full-batch L-BFGS in float64 costs one pass over the data per step: a
            # random subset is plenty for the few parameters left to settle.
            rows = np.sort(check_random_state(random_state).choice(len(X_scaled), RETRAIN_ROWS, replace=False))
            X_scaled, encoded, sample_weight = X_scaled[rows], encoded[rows], sample_weight[rows]
        x = torch.as_tensor(np.ascontiguousarray(X_scaled), dtype=torch.float64)
        target = network.targets.tensor(encoded, torch.device("cpu"), torch.float64)
        weight = torch.as_tensor(sample_weight, dtype=torch.float64)

        threads = thread_limit_for(len(x), work)

        def refit(module, iterations):
            retrain(module, x, lambda output: network.targets.loss(output, target, weight), iterations, threads)

    records = snap_network(
        work,
        network.attribution_x.to(torch.float64),
        entries,
        r2_threshold,
        weight_simple,
        refit=refit,
        max_iter=max_iter,
        refit_first=refit_first,
        readable=readable,
    )
    return network.on_module_device(work), records


def suggest_symbolic(network, layer, out, in_, library, weight_simple):
    """Candidate rows for one edge (see ``suggest_symbolic`` of the estimators)."""
    return suggest_edge(network.cpu64(), network.attribution_x.to(torch.float64), layer, out, in_, library, weight_simple)


def fix_symbolic(network, layer, out, in_, function):
    """A copy of the module with one edge set to ``function``; its name and fit R^2."""
    work = network.cpu64()
    r2 = fix_edge(work, network.attribution_x.to(torch.float64), layer, out, in_, function)
    name = work.layers[layer].symbolic_functions[(out, in_)].name
    return network.on_module_device(work), name, r2


def formulas(network, cpu_module, symbols, precision):
    """One sympy expression per network output in the user's units, and the spline edges.

    Polynomial parts are expanded when that is shorter and equal at the precision (a
    difference of squares prints as ``x0*x1``); nothing is refitted.
    """
    out_scale, out_offset = network.targets.output_transform()
    scaler = network.scaler
    expressions, spline_edges = build_formulas(
        cpu_module,
        network.attribution_x.to(torch.float64),
        symbols,
        scaler.center,
        scaler.scale,
        scaler.low,
        scaler.high,
        out_scale,
        out_offset,
        precision,
    )
    rows = network.training_rows()
    return [expand_exactly(e, symbols, rows, precision) for e in expressions], spline_edges


def formula_fidelity(network, formula, outside):
    """How well formula values match network values, per output.

    Parameters
    ----------
    network, formula : ndarray of shape (n_samples, n_outputs)
    outside : ndarray of bool, shape (n_samples,)
        Rows with a feature beyond the training range (the network clips them, the
        formula does not).

    Returns
    -------
    dict
        ``r2`` (of the formula against the network), ``max_abs_error``,
        ``n_outside_range`` and ``max_abs_error_in_range`` (over the other rows).
    """
    residual = ((formula - network) ** 2).sum(0)
    total = ((network - network.mean(0)) ** 2).sum(0)
    r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
    error = np.abs(formula - network)
    inside = error[~outside]
    return {
        "r2": r2,
        "max_abs_error": error.max(0) if len(error) else np.zeros(network.shape[1]),
        "n_outside_range": int(outside.sum()),
        "max_abs_error_in_range": inside.max(0) if len(inside) else np.zeros(network.shape[1]),
    }
