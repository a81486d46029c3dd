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
         random_state=None, readable=False, collapse=False):
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
    collapse : bool
        First fold each main effect of an additive network into one edge (see
        :func:`skkan._additive.collapse_main_effects`), so that it snaps to one closed
        form rather than a nested one.

    Returns
    -------
    module, records
        The snapped module (on the trained module's device) and one record per edge.
    """
    from sklearn.utils import check_random_state

    entries = make_library(library)
    work = network.cpu64()
    if collapse:
        from ._additive import collapse_main_effects

        collapse_main_effects(work, network.attribution_x.to(torch.float64))
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


def formulas(network, cpu_module, symbols, precision, name_terms=False):
    """One sympy expression per network output in the user's units, and the spline edges.

    Polynomial parts are expanded when that is shorter and equal at the precision (a
    difference of squares prints as ``x0*x1``); nothing is refitted. With
    ``name_terms``, in an additive network with pairs (``interactions``) every pair
    term is one named function of its two inputs, ``pair_<i>_<j>(a, b)``, and every main effect that is not closed form
    one of its input, ``main_<i>(a)`` (with several outputs, ``_<output>`` is
    appended): they carry the terms numerically, as spline placeholders do, since a
    term's hidden nodes written out edge by edge would be a page of nested splines.
    """
    out_scale, out_offset = network.targets.output_transform()
    scaler = network.scaler
    named = _named_terms(cpu_module) if name_terms else []
    module = cpu_module
    if named:
        module = copy.deepcopy(cpu_module)
        with torch.no_grad():
            for _, nodes in named:
                module.layers[0].mask[list(nodes), :] = 0.0
                module.layers[1].mask[:, list(nodes)] = 0.0
    expressions, spline_edges = build_formulas(
        module,
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
    expressions = [expand_exactly(e, symbols, rows, precision) for e in expressions]
    if named:
        expressions = [
            expression + sum(
                _term_function(cpu_module, scaler, inputs, nodes, output, out_scale[output], len(expressions))(
                    *(symbols[i] for i in inputs)
                )
                for inputs, nodes in named
            )
            for output, expression in enumerate(expressions)
        ]
    return expressions, spline_edges


def _named_terms(module):
    """``(inputs, hidden nodes)`` of the terms an additive network with pairs names in its formula.

    Every pair, and every main effect with an edge that is still a spline. Networks
    without pairs (or not additive) name none.
    """
    from ._additive import terms_of

    terms = terms_of(module)
    if terms is None or len(module.layers) != 2 or all(len(inputs) == 1 for inputs in terms.inputs):
        return []
    first, last = module.layers

    def closed_form(inputs, nodes):
        edges = [(first, j, i) for j in nodes for i in inputs] + [
            (last, o, j) for j in nodes for o in range(last.out_features)
        ]
        return all(layer.mask[o, i] == 0 or (o, i) in layer.symbolic_functions for layer, o, i in edges)

    return [
        (inputs, nodes)
        for inputs, nodes in zip(terms.inputs, terms.nodes)
        if len(inputs) == 2 or not closed_form(inputs, nodes)
    ]


def _term_function(module, scaler, inputs, nodes, output, scale, n_outputs):
    """A sympy function of a term's raw inputs that evaluates the term numerically."""
    from sympy.utilities.lambdify import implemented_function

    from ._additive import Terms, term_contributions

    term = Terms(inputs=[inputs], nodes=[nodes])
    module = copy.deepcopy(module)

    def evaluate(*columns):
        columns = np.broadcast_arrays(*(np.asarray(column, dtype=np.float64) for column in columns))
        raw = np.zeros((columns[0].size, len(scaler.center)))
        for i, column in zip(inputs, columns):
            raw[:, i] = column.ravel()
        x = torch.as_tensor(scaler.transform(raw), dtype=torch.float64)
        values, _ = term_contributions(module, term, x)
        return (scale * values[:, 0, output]).reshape(columns[0].shape)

    name = ("pair_" if len(inputs) == 2 else "main_") + "_".join(map(str, inputs))
    return implemented_function(name + (f"_{output}" if n_outputs > 1 else ""), evaluate)


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
        ``n_outside_range``, and ``max_abs_error_in_range`` and ``r2_in_range``
        (over the other rows).
    """
    error = np.abs(formula - network)
    inside = error[~outside]
    return {
        "r2": _r2(network, formula),
        "max_abs_error": error.max(0) if len(error) else np.zeros(network.shape[1]),
        "n_outside_range": int(outside.sum()),
        "max_abs_error_in_range": inside.max(0) if len(inside) else np.zeros(network.shape[1]),
        "r2_in_range": _r2(network[~outside], formula[~outside]),
    }


def _r2(network, formula):
    """R^2 of ``formula`` against ``network`` per output (1 where both are constant and equal)."""
    if not len(network):
        return np.ones(network.shape[1])
    residual = ((formula - network) ** 2).sum(0)
    total = ((network - network.mean(0)) ** 2).sum(0)
    return np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
