"""A KAN: a stack of :class:`KANLayer` with grid adaptation, penalties and scores."""

import numpy as np
import torch
from torch import nn

from .layer import KANLayer

__all__ = ["KAN", "register_function_codec"]

#: Version of the :meth:`KAN.to_state` format; :meth:`KAN.from_state` reads this
#: version and older ones.
STATE_VERSION = 1

_DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}
_LAYER_PARAMETERS = ("coef", "scale_base", "scale_spline", "bias", "symbolic_affine")
_LAYER_BUFFERS = ("grid", "mask", "symbolic_mask")


# How symbolic edge functions are saved as plain data: this core layer does not know
# their types; the package that defines them registers the conversion.
_FUNCTION_CODEC = {}


def register_function_codec(to_spec, from_spec):
    """Let :meth:`KAN.to_state` save symbolic edge functions as plain data.

    Parameters
    ----------
    to_spec : callable
        ``function -> dict or None``: the function as plain data (None: keep the
        object itself).
    from_spec : callable
        ``dict -> function``, the inverse.
    """
    _FUNCTION_CODEC["to_spec"], _FUNCTION_CODEC["from_spec"] = to_spec, from_spec


def _encode_function(function):
    to_spec = _FUNCTION_CODEC.get("to_spec")
    spec = None if to_spec is None else to_spec(function)
    return function if spec is None else spec


def _decode_function(spec):
    if not isinstance(spec, dict):
        return spec  # an object that had no plain description (kept as it was)
    if "from_spec" not in _FUNCTION_CODEC:
        raise ValueError("A saved symbolic edge needs its function library: import skkan.symbolic first.")
    return _FUNCTION_CODEC["from_spec"](spec)


def _spread(values, sample_weight=None):
    """(Weighted) population standard deviation of every column."""
    if sample_weight is None:
        return values.std(0, unbiased=False)
    weights = (sample_weight / sample_weight.sum())[:, None]
    mean = (weights * values).sum(0)
    return (weights * (values - mean) ** 2).sum(0).clamp_min(0).sqrt()


class KAN(nn.Module):
    """A Kolmogorov-Arnold network: KAN layers of sizes ``widths``, inputs first.

    Parameters
    ----------
    widths : sequence of int
        Number of nodes per layer, inputs first, outputs last (at least two).
    grid_size, spline_order, grid_range, noise_scale :
        Passed to every :class:`KANLayer`.
    generator : torch.Generator, optional
        Source of randomness for the initialisation.
    device, dtype : optional
        Where and in which precision to create the parameters.

    Examples
    --------
    >>> import torch
    >>> from skkan.nn import KAN
    >>> net = KAN([2, 5, 1], grid_size=5)
    >>> net(torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        widths,
        grid_size=5,
        spline_order=3,
        grid_range=(-1.0, 1.0),
        noise_scale=0.1,
        generator=None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths needs at least two positive entries, got {widths}.")
        self.layers = nn.ModuleList(
            KANLayer(
                n_in,
                n_out,
                grid_size=grid_size,
                spline_order=spline_order,
                grid_range=grid_range,
                noise_scale=noise_scale,
                generator=generator,
                device=device,
                dtype=dtype,
            )
            for n_in, n_out in zip(widths[:-1], widths[1:])
        )

    @property
    def widths(self):
        """Current number of nodes per layer (after pruning, too)."""
        return [self.layers[0].in_features] + [layer.out_features for layer in self.layers]

    # ------------------------------------------------------------------ persistence
    def to_state(self):
        """The network as numpy arrays and plain python values (no torch objects).

        Used to save fitted estimators (pickle, joblib, ``skops.io``) so that files
        hold no torch pickles and load on any device. :meth:`from_state` rebuilds
        the network on the CPU, bit for bit.

        Returns
        -------
        dict
            ``version`` (:data:`STATE_VERSION`), ``dtype`` (``"float32"``, ...),
            ``widths`` and ``layers``: one dict per layer with ``grid_size``,
            ``spline_order``, the arrays ``grid, mask, coef, scale_base,
            scale_spline, bias`` (bias may be None), ``symbolic_affine`` and
            ``symbolic_mask`` (None without symbolic edges), ``symbolic_edges``
            (``[out, in, spec]`` with ``spec`` a dict such as ``{"name": "sin"}``;
            see :func:`skkan.symbolic.function_to_spec`) and ``frozen`` (names of
            parameters with ``requires_grad=False``).
        """
        layers = []
        for layer in self.layers:
            entry = {
                "in_features": int(layer.in_features),
                "out_features": int(layer.out_features),
                "grid_size": int(layer.grid_size),
                "spline_order": int(layer.spline_order),
            }
            frozen = []
            for name in _LAYER_PARAMETERS + _LAYER_BUFFERS:
                tensor = getattr(layer, name)
                entry[name] = None if tensor is None else tensor.detach().cpu().numpy().copy()
                if name in _LAYER_PARAMETERS and tensor is not None and not tensor.requires_grad:
                    frozen.append(name)
            entry["frozen"] = frozen
            entry["symbolic_edges"] = [
                [int(out), int(in_), _encode_function(function)]
                for (out, in_), function in sorted(layer.symbolic_functions.items())
            ]
            layers.append(entry)
        dtype = self.layers[0].coef.dtype
        return {"version": STATE_VERSION, "dtype": _DTYPE_NAMES.get(dtype, str(dtype)), "widths": self.widths, "layers": layers}

    @classmethod
    def from_state(cls, state):
        """Rebuild a network from :meth:`to_state` (on the CPU, in the saved dtype)."""
        version = state.get("version") if isinstance(state, dict) else None
        if not isinstance(version, int) or version > STATE_VERSION:
            raise ValueError(
                f"This KAN state has format version {version!r}; this skkan reads versions up to "
                f"{STATE_VERSION}. It was saved by a newer skkan: upgrade skkan to load it."
            )
        dtype = getattr(torch, state["dtype"])
        network = cls.__new__(cls)
        nn.Module.__init__(network)
        layers = []
        for entry in state["layers"]:
            layer = KANLayer(
                entry["in_features"],
                entry["out_features"],
                grid_size=entry["grid_size"],
                spline_order=entry["spline_order"],
                bias=entry["bias"] is not None,
                generator=torch.Generator(),  # its own: loading leaves the global RNG alone
                dtype=dtype,
            )
            for name in _LAYER_PARAMETERS + _LAYER_BUFFERS:
                array = entry[name]
                if array is None:
                    continue
                tensor = torch.from_numpy(np.array(array, copy=True))
                if name in _LAYER_PARAMETERS:
                    tensor = nn.Parameter(tensor, requires_grad=name not in entry.get("frozen", ()))
                setattr(layer, name, tensor)
            layer.symbolic_functions = {
                (int(out), int(in_)): _decode_function(spec) for out, in_, spec in entry["symbolic_edges"]
            }
            layers.append(layer)
        network.layers = nn.ModuleList(layers)
        return network

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def layer_inputs(self, x):
        """Inputs of every layer and the network output: a list of ``depth + 1`` tensors."""
        values = [x]
        for layer in self.layers:
            values.append(layer(values[-1]))
        return values

    @torch.no_grad()
    def update_grid(self, x, grid_eps=0.02, sample_weight=None):
        """Adapt every layer's grid to the activations that ``x`` produces there."""
        for layer in self.layers:
            layer.update_grid(x, grid_eps=grid_eps, sample_weight=sample_weight)
            x = layer(x)

    @torch.no_grad()
    def refine(self, grid_size):
        """Give every layer a grid of ``grid_size`` intervals, keeping the function."""
        for layer in self.layers:
            layer.refine(grid_size)

    def regularization(
        self, x, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.0, lamb_coefdiff=0.0, sample_weight=None, layer_inputs=None
    ):
        """pykan's sparsity penalty on the activations that ``x`` produces.

        For each layer, with ``a_{j,i} = std(phi_{j,i}) / (std(x_i) + 0.1)`` (the edge
        spread normalised by its input's spread): ``lamb_l1 * sum(a)`` plus
        ``lamb_entropy`` times the row and column entropies of ``a``, plus
        ``lamb_coef * mean|c|`` and ``lamb_coefdiff * mean|diff(c)|`` summed over edges.
        Pass ``layer_inputs`` (from :meth:`layer_inputs`) to reuse a forward pass.
        """
        if layer_inputs is None:
            layer_inputs = self.layer_inputs(x)
        total = x.new_zeros(())
        for layer, x in zip(self.layers, layer_inputs):
            if lamb_l1 or lamb_entropy:
                scale = layer.edge_spread(x, sample_weight) / (_spread(x, sample_weight) + 0.1)
                total = total + lamb_l1 * scale.sum()
                if lamb_entropy:
                    p_row = scale / (scale.sum(1, keepdim=True) + 1)
                    p_col = scale / (scale.sum(0, keepdim=True) + 1)
                    entropy_row = -(p_row * torch.log2(p_row + 1e-4)).sum(1).mean()
                    entropy_col = -(p_col * torch.log2(p_col + 1e-4)).sum(0).mean()
                    total = total + lamb_entropy * (entropy_row + entropy_col)
            if lamb_coef:
                total = total + lamb_coef * layer.coef.abs().mean(-1).sum()
            if lamb_coefdiff:
                total = total + lamb_coefdiff * layer.coef.diff(dim=-1).abs().mean(-1).sum()
        return total

    @torch.no_grad()
    def attribution(self, x, sample_weight=None):
        """pykan's attribution scores, propagated from the outputs to the inputs.

        Every output node scores 1. Going backwards through each layer, an edge
        scores ``std(phi_{j,i}) * score_j / (std(y_j) + 1e-4)`` and a node the sum of
        its outgoing edge scores.

        Returns
        -------
        node_scores : list of torch.Tensor
            ``depth + 1`` tensors, inputs first, of shape (width_l,).
        edge_scores : list of torch.Tensor
            ``depth`` tensors of shape (out_l, in_l).
        """
        values = self.layer_inputs(x)
        score = torch.ones(self.layers[-1].out_features, dtype=x.dtype, device=x.device)
        node_scores, edge_scores = [score], []
        for layer, layer_in, layer_out in zip(reversed(self.layers), reversed(values[:-1]), reversed(values[1:])):
            out_spread = _spread(layer_out, sample_weight)
            edge = layer.edge_spread(layer_in, sample_weight) * layer.mask * (score / (out_spread + 1e-4))[:, None]
            score = edge.sum(0)
            edge_scores.insert(0, edge)
            node_scores.insert(0, score)
        return node_scores, edge_scores

    @torch.no_grad()
    def prune(self, x, node_threshold=1e-2, edge_threshold=3e-2, sample_weight=None, remove_nodes=True):
        """pykan's pruning: mask weak edges, then drop hidden nodes that no longer matter.

        Edges whose :meth:`attribution` score is below ``edge_threshold`` are masked,
        and the (weighted) mean of each one's activation on ``x`` is added to the bias
        of the node it feeds: a weak edge is replaced by the constant that best
        approximates it, not by 0 (a flat curve can still carry a large offset).
        A hidden node is removed when its score is below ``node_threshold`` or it has
        no active outgoing edge (its value is unused), or when it has no active
        incoming edge (its value is its bias; the constant its outgoing curves add is
        folded into the next layer's bias). The pruned network therefore predicts
        exactly as the original one with the masked edges replaced by their means.
        At least one node is kept in every hidden layer. With ``remove_nodes=False``
        only edges are masked (node indices stay valid).

        Returns
        -------
        self
        """
        node_scores, edge_scores = self.attribution(x, sample_weight=sample_weight)
        weights = torch.ones(x.shape[0], dtype=x.dtype, device=x.device) if sample_weight is None else sample_weight
        weights = weights / weights.sum()
        for layer, edge, layer_in in zip(self.layers, edge_scores, self.layer_inputs(x)):
            removed = (edge < edge_threshold) & (layer.mask > 0)
            if removed.any():
                mean = torch.einsum("b,boi->oi", weights.to(layer.coef.dtype), layer.edge_activations(layer_in))
                if layer.bias is None:
                    layer.bias = torch.nn.Parameter(torch.zeros(layer.out_features, dtype=layer.coef.dtype, device=layer.coef.device))
                layer.bias.add_((mean * removed.to(mean.dtype)).sum(1))
            layer.mask.mul_((~removed).to(layer.mask.dtype))
        if not remove_nodes:
            return self
        for hidden in range(1, len(self.layers)):
            before, after = self.layers[hidden - 1], self.layers[hidden]
            has_input = before.mask.sum(1) > 0
            has_output = after.mask.sum(0) > 0
            keep = (node_scores[hidden] >= node_threshold) & has_input & has_output
            if not keep.any():
                keep[int(torch.argmax(node_scores[hidden] * has_output))] = True
            constant = ~has_input & ~keep
            if constant.any():
                # These nodes output their bias: fold their edges' constant into the bias.
                value = (before.bias if before.bias is not None else torch.zeros_like(has_input, dtype=x.dtype))
                contribution = after.edge_activations(value[None, :].to(after.coef.dtype))[0]  # (out, in)
                if after.bias is None:
                    after.bias = torch.nn.Parameter(torch.zeros(after.out_features, dtype=after.coef.dtype, device=after.coef.device))
                after.bias.add_((contribution * constant.to(contribution.dtype)).sum(1))
            if not keep.all():
                before.keep_nodes(outputs=keep)
                after.keep_nodes(inputs=keep)
        return self

