"""Snapping a KAN's edges to symbolic functions (private; the estimators delegate here).

:func:`snap_network` is the body of ``auto_symbolic``: layer by layer, every spline
edge is matched against the library (:func:`skkan.symbolic.fit_symbolic`, ranked by
:func:`skkan.symbolic.rank_candidates`) and, given data, everything left is retrained
(:func:`retrain`, scipy L-BFGS-B in float64), followed by cleanup rounds.
:func:`suggest_edge` and :func:`fix_edge` are the manual counterparts (pykan's
``suggest_symbolic`` and ``fix_symbolic``). Everything works on a
:class:`skkan.nn.KAN`; the estimators validate inputs and own the state.
"""

import numpy as np
import torch

from ..nn._threads import limited_threads
from ._fit import fit_symbolic, rank_candidates
from ._library import make_library

__all__ = [
    "fix_edge", "normalise_symbolic_nodes", "readable_fits", "retrain", "sample_points", "snap_layer", "snap_network",
    "suggest_edge",
]

# L-BFGS iterations of the retraining between layers: enough for the next layer's
# curves to adapt to their now exact inputs; the rounds after the last layer get
# max_iter.
INTERMEDIATE_RETRAIN = 100

# Re-rank / mask / retrain rounds at the end of snap_network.
CLEANUP_ROUNDS = 3

# Attribution score under which snap_network removes an edge after retraining: a
# thousandth of what its node passes on (prune's default threshold is 3e-2).
NEGLIGIBLE_EDGE = 1e-3

# Readable closed forms (``readable=True``): a periodic function shows at most this many
# periods over its input's range, and a sigmoid (tanh, arctan) rises over at least
# 1/MAX_STEP_SLOPE of the range (steeper, it is a step that a spline draws better).
MAX_PERIODS = 2.0
MAX_STEP_SLOPE = 10.0
_SIGMOIDS = ("tanh", "arctan")

# Score advantage (in rank_candidates' units: 0.5 is one unit of complexity at the
# default weight) that another function needs to replace an edge's function after
# retraining.
RESNAP_MARGIN = 0.5

def sample_points(values, n_quantiles=64, n_uniform=64):
    """Points covering each column's range: its quantiles (where data are) and a uniform grid."""
    levels = torch.linspace(0, 1, n_quantiles, dtype=values.dtype)
    quantiles = torch.quantile(values, levels, dim=0)
    low, high = values.min(0).values, values.max(0).values
    uniform = low + (high - low) * torch.linspace(0, 1, n_uniform, dtype=values.dtype)[:, None]
    return torch.cat([quantiles, uniform]).sort(0).values


@torch.no_grad()
def normalise_symbolic_nodes(module, x):
    """Give hidden nodes read only by symbolic edges a unit spread (an exact change).

    Penalised training leaves some nodes tiny and the next curve steep (a node of
    spread 0.03 feeding exp(-40 h)); scaling the node by 1/s and every reading
    argument a by s keeps the function and makes L-BFGS well conditioned.
    """
    values = module.layer_inputs(x)
    for index in range(1, len(module.layers)):
        before, after = module.layers[index - 1], module.layers[index]
        spread = values[index].std(0)
        for node in range(before.out_features):
            readers = [j for j in range(after.out_features) if after.mask[j, node] > 0]
            if not readers or any((j, node) not in after.symbolic_functions for j in readers):
                continue
            incoming = [i for i in range(before.in_features) if before.mask[node, i] > 0]
            if any((node, i) not in before.symbolic_functions for i in incoming):
                continue
            scale = float(spread[node])
            if not np.isfinite(scale) or scale <= 1e-12:
                continue
            for i in incoming:
                before.symbolic_affine[node, i, 2:] /= scale
            if before.bias is not None:
                before.bias[node] /= scale
            for j in readers:
                after.symbolic_affine[j, node, 0] *= scale


def readable_fits(entries, params, spans):
    """Which fits a person can read over the data: (E, K) booleans.

    Parameters
    ----------
    entries : list of SymbolicFunction
    params : torch.Tensor of shape (E, K, 4)
        ``a, b, c, d`` of every fit.
    spans : torch.Tensor of shape (E,)
        Width of each curve's input range.
    """
    argument_span = params[..., 0].abs() * spans[:, None]
    readable = torch.ones(argument_span.shape, dtype=torch.bool)
    for k, entry in enumerate(entries):
        if entry.period:
            readable[:, k] = argument_span[:, k] <= MAX_PERIODS * entry.period
        elif entry.name in _SIGMOIDS:
            readable[:, k] = argument_span[:, k] <= MAX_STEP_SLOPE
    return readable


def snap_layer(module, index, data, entries, r2_threshold, weight_simple, resnap=False, readable=False):
    """Fit the library to the curves of one layer's edges and snap the accepted ones.

    With ``readable``, fits that :func:`readable_fits` rejects are not accepted (the
    edge takes the next candidate or stays a spline). By default the spline edges
    are fitted. With ``resnap``, the symbolic edges are
    fitted instead and an edge changes function only when another one now scores
    clearly better (retraining can turn ``sin`` into a sliver of ``sin`` that is
    really ``x``). Returns the records of the edges fitted (or changed).
    """
    layer = module.layers[index]
    names = [entry.name for entry in entries]
    edges = [
        (j, i)
        for j in range(layer.out_features)
        for i in range(layer.in_features)
        if layer.mask[j, i] > 0
        and (
            (resnap and layer.symbolic_functions.get((j, i)) is not None and layer.symbolic_functions[(j, i)].name in names)
            or (not resnap and (j, i) not in layer.symbolic_functions)
        )
    ]
    if not edges:
        return []
    with torch.no_grad():
        points = sample_points(module.layer_inputs(data)[index])
        curves = layer.edge_activations(points)  # (P, out, in)
    if resnap:
        # Only fits that look degenerate are worth re-ranking: a short argument span
        # (a Taylor polynomial of f) or a large c cancelled by d.
        def degenerate(j, i):
            function = layer.symbolic_functions[(j, i)]
            a, _, _, d = layer.symbolic_affine[j, i].tolist()
            span = abs(a) * float(points[:, i].max() - points[:, i].min())
            curve = curves[:, j, i]
            amplitude = float((curve - d).abs().max() / curve.std().clamp_min(1e-300))
            return (function.fit in ("general", "shift_free") and span < 1.0) or amplitude > 20

        edges = [edge for edge in edges if degenerate(*edge)]
        if not edges:
            return []
    rows = torch.tensor([j for j, _ in edges])
    cols = torch.tensor([i for _, i in edges])
    fit = fit_symbolic(points[:, cols].t(), curves[:, rows, cols].t(), entries)
    score = rank_candidates(fit, entries, weight_simple=weight_simple)
    acceptable = fit.r2 >= r2_threshold
    if readable:
        spans = points[:, cols].max(0).values - points[:, cols].min(0).values
        acceptable &= readable_fits(entries, fit.params, spans)
    accepted = torch.where(acceptable, score, torch.full_like(score, float("inf")))
    records = []
    for e, (j, i) in enumerate(edges):
        best = int(torch.argmin(accepted[e]))
        if resnap:
            current = names.index(layer.symbolic_functions[(j, i)].name)
            if best == current or not accepted[e, best] < score[e, current] - RESNAP_MARGIN:
                continue
        ranked = torch.argsort(score[e])[:3].tolist()
        record = {
            "layer": index,
            "output": j,
            "input": i,
            "function": None,
            "r2": float(fit.r2[e, ranked[0]]),
            "candidates": [(entries[k].name, float(fit.r2[e, k])) for k in ranked],
        }
        if torch.isfinite(accepted[e, best]):
            layer.set_symbolic(j, i, entries[best], fit.params[e, best].tolist())
            record["function"] = entries[best].name
            record["r2"] = float(fit.r2[e, best])
        records.append(record)
    return records


def retrain(module, x, loss, max_iter, thread_limit=None):
    """Full-batch L-BFGS (scipy, float64) of every parameter of ``module``, no penalty.

    Parameters
    ----------
    module : skkan.nn.KAN
        Float64 network on the CPU, changed in place.
    x : torch.Tensor
        Standardised inputs.
    loss : callable
        ``loss(output) -> scalar tensor`` (the estimator's weighted training loss).
    max_iter : int
    thread_limit : int or None
        Passed to :func:`skkan.nn._threads.limited_threads` (None: no limit).
    """
    from scipy.optimize import minimize

    normalise_symbolic_nodes(module, x)
    params = [p for p in module.parameters() if p.requires_grad]

    def objective(vector):
        # A copy: scipy updates its array in place, and parameters would alias it.
        torch.nn.utils.vector_to_parameters(torch.tensor(vector, dtype=torch.float64), params)
        for p in params:
            p.grad = None
        value_tensor = loss(module(x))
        value_tensor.backward()
        value = float(value_tensor.detach())
        if not np.isfinite(value):
            return np.inf, np.zeros(len(vector))
        gradient = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        return value, gradient.numpy().copy()

    best = torch.nn.utils.parameters_to_vector(params).detach().numpy().copy()
    best_value = objective(best)[0]
    remaining = max_iter
    with limited_threads(thread_limit):
        # L-BFGS-B can stop early on a badly scaled valley (a line search that finds
        # no decrease); a restart with fresh curvature memory usually goes on.
        for _ in range(5):
            result = minimize(
                objective,
                best,
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": remaining, "ftol": 1e-12, "gtol": 1e-10, "maxcor": 30},
            )
            remaining -= result.nit
            improved = np.isfinite(result.fun) and result.fun < best_value
            if improved:
                gain = (best_value - result.fun) / max(best_value, 1e-300)
                best, best_value = result.x.copy(), float(result.fun)
            if not improved or remaining <= 0 or result.nit >= 0.5 * (remaining + result.nit) or gain < 1e-6:
                break
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(best, dtype=torch.float64), params)
    module.eval()


def snap_network(module, data, entries, r2_threshold, weight_simple, refit=None, max_iter=200, refit_first=False,
                 readable=False):
    """Snap every spline edge of ``module`` (float64, CPU; changed in place).

    Parameters
    ----------
    module : skkan.nn.KAN
    data : torch.Tensor
        Standardised training rows whose layer inputs set each curve's range.
    entries : list of SymbolicFunction
    r2_threshold, weight_simple : float
        As in ``auto_symbolic``.
    refit : callable or None
        ``refit(module, max_iter)`` retrains all parameters on the data; None snaps
        without retraining.
    max_iter : int
        Iterations of the final retraining (at most :data:`INTERMEDIATE_RETRAIN`
        between layers).
    refit_first : bool
        Retrain once before matching (for networks trained with a sparsity penalty,
        which shrinks and bends the curves).
    readable : bool
        Accept only closed forms that :func:`readable_fits` accepts.

    Returns
    -------
    list of dict
        One record per edge considered (see ``symbolic_fits_``).
    """
    records = []
    retraining = refit is not None and max_iter > 0
    intermediate = min(max_iter, INTERMEDIATE_RETRAIN)
    if retraining and refit_first:
        refit(module, intermediate)
    # Layer by layer: each layer's curves are matched once the layers before it are
    # symbolic and, given data, retrained, so the later curves are fitted to their
    # exact inputs.
    for index in range(len(module.layers)):
        with limited_threads(1):  # many small tensor operations
            records.extend(snap_layer(module, index, data, entries, r2_threshold, weight_simple, readable=readable))
        if retraining:
            refit(module, max_iter if index == len(module.layers) - 1 else intermediate)
    if not retraining:
        return records
    # Retraining can turn a function into a sliver of itself (-12 cos(0.35 x) for x**2,
    # a huge c times sin of a tiny argument for a line) and retrain edges down to
    # nothing (a 1e-4 * x term beside the real formula): re-rank the degenerate edges,
    # mask the vanishing ones (their mean goes to the bias) and settle the constants
    # again, until nothing changes.
    for _ in range(CLEANUP_ROUNDS):
        changed = []
        for index in range(len(module.layers)):
            with limited_threads(1):
                changed.extend(
                    snap_layer(module, index, data, entries, r2_threshold, weight_simple, resnap=True, readable=readable)
                )
        replaced = {(r["layer"], r["output"], r["input"]): r for r in changed}
        records = [replaced.get((r["layer"], r["output"], r["input"]), r) for r in records]
        n_edges = sum(int(layer.mask.sum()) for layer in module.layers)
        module.prune(data, edge_threshold=NEGLIGIBLE_EDGE, remove_nodes=False)
        records = [r for r in records if module.layers[r["layer"]].mask[r["output"], r["input"]] > 0]
        pruned = sum(int(layer.mask.sum()) for layer in module.layers) < n_edges
        if not changed and not pruned:
            break
        refit(module, max_iter)
    return records


def _edge_curve_samples(module, data, layer_index, out_index, in_index):
    """The edge's input samples and curve values over the range its inputs took."""
    with torch.no_grad():
        points = sample_points(module.layer_inputs(data)[layer_index])
        values = module.layers[layer_index].edge_activations(points)[:, out_index, in_index]
    return points[:, in_index], values


def suggest_edge(module, data, layer_index, out_index, in_index, library=None, weight_simple=0.5):
    """Every candidate of ``library`` fitted to one edge's curve, best first.

    Returns
    -------
    list of dict
        ``function``, ``r2``, ``complexity``, ``score`` (lower is better, as in
        :func:`skkan.symbolic.rank_candidates`) and the fitted ``a, b, c, d``.
    """
    entries = make_library(library)
    points, values = _edge_curve_samples(module, data, layer_index, out_index, in_index)
    with limited_threads(1):  # many tiny tensor operations: one thread is faster
        fit = fit_symbolic(points[None, :], values[None, :], entries)
    score = rank_candidates(fit, entries, weight_simple=weight_simple)[0]
    rows = []
    for k in torch.argsort(score).tolist():
        a, b, c, d = fit.params[0, k].tolist()
        rows.append(
            {
                "function": entries[k].name,
                "r2": float(fit.r2[0, k]),
                "complexity": float(entries[k].complexity),
                "score": float(score[k]),
                "a": a,
                "b": b,
                "c": c,
                "d": d,
            }
        )
    return rows


def fix_edge(module, data, layer_index, out_index, in_index, function):
    """Set one edge to ``function`` (a name, SymbolicFunction or ``{name: expr}``),
    with ``a, b, c, d`` fitted to its current curve; returns the fit's R^2."""
    entries = make_library(function if isinstance(function, dict) else [function])
    if len(entries) != 1:
        raise ValueError(f"fix_symbolic takes one function, got {len(entries)}.")
    points, values = _edge_curve_samples(module, data, layer_index, out_index, in_index)
    with limited_threads(1):
        fit = fit_symbolic(points[None, :], values[None, :], entries)
    r2 = float(fit.r2[0, 0])
    if not np.isfinite(r2):
        raise ValueError(
            f"{entries[0].name} cannot be fitted to edge ({layer_index}, {out_index}, {in_index}): its argument "
            "would leave the function's domain over the edge's input range."
        )
    module.layers[layer_index].set_symbolic(out_index, in_index, entries[0], fit.params[0, 0].tolist())
    return r2
