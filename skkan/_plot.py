"""The network as pykan draws it (matplotlib, an optional extra; private)."""

import numpy as np
import torch

__all__ = ["plot_network"]


def _node_positions(width):
    """Evenly spaced x positions in [0, 1] for ``width`` nodes."""
    return (np.arange(width) + 0.5) / width


def plot_network(estimator, ax=None, n_points=100, beta=3.0, input_names=None, output_names=None, title=None):
    """Draw nodes, edges with their learned curves, and fade weak or pruned parts.

    See :meth:`skkan.KANRegressor.plot` for the parameters.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot() needs matplotlib: pip install 'skkan[plot]'.") from error

    module = estimator._cpu_module()
    widths = module.widths
    depth = len(module.layers)
    data = estimator._attribution_data.to(torch.float64)
    with torch.no_grad():
        values = module.layer_inputs(data)
    scores = estimator.edge_scores_
    if ax is None:
        width = max(4.0, 1.4 * max(max(layer.in_features * layer.out_features for layer in module.layers), max(widths)) ** 0.8)
        _, ax = plt.subplots(figsize=(width, 2.6 * depth + 1))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.35, depth + 0.35)
    ax.axis("off")

    for level, width in enumerate(widths):
        xs = _node_positions(width)
        ax.scatter(xs, np.full(width, level), s=60, c="black", zorder=3)
    names_in = input_names if input_names is not None else _default_inputs(estimator)
    for x, name in zip(_node_positions(widths[0]), names_in):
        ax.text(x, -0.12, str(name), ha="center", va="top", fontsize=8)
    if output_names is not None:
        for x, name in zip(_node_positions(widths[-1]), output_names):
            ax.text(x, depth + 0.12, str(name), ha="center", va="bottom", fontsize=8)

    for index, layer in enumerate(module.layers):
        n_in, n_out = layer.in_features, layer.out_features
        xs_in, xs_out = _node_positions(n_in), _node_positions(n_out)
        box_xs = _node_positions(n_in * n_out)
        box_width = min(0.8 / (n_in * n_out), 0.18)
        box_height = 0.32
        box_bottom = index + 0.5 - box_height / 2
        mask = layer.mask.detach().cpu().numpy()
        edge_scores = scores[index]
        low = values[index].min(0).values
        high = values[index].max(0).values
        grid = low + (high - low) * torch.linspace(0, 1, n_points, dtype=torch.float64)[:, None]
        with torch.no_grad():
            curves = layer.edge_activations(grid).numpy()  # (n_points, out, in)
        for i in range(n_in):
            for j in range(n_out):
                box_x = box_xs[i * n_out + j]
                active = mask[j, i] > 0
                alpha = float(np.tanh(beta * edge_scores[j, i])) if active else 0.0
                alpha = max(alpha, 0.05)
                symbolic = layer.symbolic_functions.get((j, i)) if active else None
                color = "tab:red" if symbolic is not None else "black"
                ax.plot([xs_in[i], box_x], [index, box_bottom], color=color, alpha=alpha, lw=1)
                ax.plot([box_x, xs_out[j]], [box_bottom + box_height, index + 1], color=color, alpha=alpha, lw=1)
                inset = ax.inset_axes(
                    [box_x - box_width / 2, box_bottom, box_width, box_height], transform=ax.transData
                )
                if active:
                    inset.plot(grid[:, i].numpy(), curves[:, j, i], color=color, alpha=alpha, lw=1.5)
                inset.set_xticks([])
                inset.set_yticks([])
                for spine in inset.spines.values():
                    spine.set_alpha(alpha)
                if symbolic is not None:
                    inset.set_title(symbolic.name, fontsize=7, color=color, alpha=alpha, pad=1)
    if title:
        ax.set_title(title)
    return ax


def _default_inputs(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    # After pruning, the first layer still has every input (inputs are never removed).
    return list(names)
