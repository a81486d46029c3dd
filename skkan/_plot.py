"""The network as pykan draws it (matplotlib, an optional extra; private)."""

import numpy as np
import torch

__all__ = ["figure_size", "plot_network", "plot_term_panels"]


def _node_positions(width):
    """Evenly spaced x positions in [0, 1] for ``width`` nodes."""
    return (np.arange(width) + 0.5) / width


def plot_network(module, data, edge_scores, input_names, output_names, ax=None, n_points=100, beta=3.0, title=None):
    """Draw nodes, edges with their learned curves, and fade weak or pruned parts.

    Parameters
    ----------
    module : skkan.nn.KAN
        The network (a float64 CPU copy).
    data : torch.Tensor of shape (n_samples, n_inputs)
        Network inputs of training rows: each edge is drawn over the range its
        input took on them.
    edge_scores : list of ndarray
        Attribution score of every edge, one (out, in) array per layer.
    input_names, output_names : list of str
        Labels of the input and output nodes.

    See :meth:`skkan.KANRegressor.plot` for the other parameters.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot() needs matplotlib: pip install 'skkan[plot]'.") from error

    widths = module.widths
    depth = len(module.layers)
    with torch.no_grad():
        values = module.layer_inputs(data)
    scores = edge_scores
    if ax is None:
        _, ax = plt.subplots(figsize=figure_size(widths))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.35, depth + 0.35)
    ax.axis("off")

    for level, width in enumerate(widths):
        xs = _node_positions(width)
        ax.scatter(xs, np.full(width, level), s=60, c="black", zorder=3)
    names_in = input_names
    # Many inputs: slanted labels, so long column names do not run into each other.
    slanted = widths[0] >= _SLANT_FROM
    for x, name in zip(_node_positions(widths[0]), names_in):
        ax.text(
            x, -0.1, str(name), ha="right" if slanted else "center", va="top", fontsize=_LABEL_SIZE,
            rotation=30 if slanted else 0, rotation_mode="anchor", gid="input_label",
        )
    names_out = output_names
    for x, name in zip(_node_positions(widths[-1]), names_out):
        ax.text(x, depth + 0.1, str(name), ha="center", va="bottom", fontsize=_LABEL_SIZE, gid="output_label")

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
        # Masked structure (an additive model's pairs) leaves most edges of a wide layer
        # inactive: drawing them would bury the active ones.
        hide_inactive = n_in * n_out > _SHOW_INACTIVE_UP_TO and (mask == 0).any()
        for i in range(n_in):
            for j in range(n_out):
                box_x = box_xs[i * n_out + j]
                active = mask[j, i] > 0
                if hide_inactive and not active:
                    continue
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
                    # At full opacity: the function's name stays legible on a faded edge.
                    inset.set_title(symbolic.name, fontsize=_FUNCTION_SIZE, color=color, pad=1)
    if title:
        ax.set_title(title)
    return ax


def figure_size(widths):
    """(width, height) in inches: room for every edge's curve and every label.

    The widest layer (edges, or nodes) gets about half an inch per edge box; each
    layer about two inches of height.
    """
    boxes = max(max(n_in * n_out for n_in, n_out in zip(widths[:-1], widths[1:])), max(widths))
    width = min(max(4.0, 0.5 * boxes + 2.0), _MAX_WIDTH)
    return width, 2.2 * (len(widths) - 1) + 1.5


# Font sizes (points) of node labels and of symbolic functions' names.
_LABEL_SIZE = 9
_FUNCTION_SIZE = 8
# Input labels are slanted from this many inputs on.
_SLANT_FROM = 6
# Layers with more edges than this draw only their active ones.
_SHOW_INACTIVE_UP_TO = 64
# Widest default figure (inches); wider networks get narrower edge boxes.
_MAX_WIDTH = 40.0


def plot_term_panels(panels, ncols=None):
    """One panel per term of an additive model (see :meth:`skkan.KANRegressor.plot_terms`).

    Parameters
    ----------
    panels : list of dict
        Each with ``title``, ``inputs`` (feature names), ``axes`` (grid values of each
        input, in the data's units) and ``data`` (rows of the term's inputs, for the
        density), and either ``curves`` (``{output name: values on the grid}``, with an
        optional ``symbolic`` ``(values, label)`` or None) for a feature, or
        ``surface`` (values on the grid of two inputs) and ``output`` for a pair.
    ncols : int, optional
        Panels per row (up to 4 by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_terms() needs matplotlib: pip install 'skkan[plot]'.") from error

    count = max(len(panels), 1)
    ncols = min(count, _TERM_COLUMNS) if ncols is None else max(1, int(ncols))
    nrows = -(-count // ncols)
    figure, grid = plt.subplots(
        nrows, ncols, figsize=(_TERM_PANEL_SIZE[0] * ncols, _TERM_PANEL_SIZE[1] * nrows), squeeze=False,
        layout="constrained",
    )
    for ax in grid.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(grid.ravel(), panels):
        if "surface" in panel:
            _draw_pair(figure, ax, panel)
        else:
            _draw_feature(ax, panel)
        ax.set_title(panel["title"], fontsize=_TITLE_SIZE)
    return figure


def _draw_feature(ax, panel):
    x = panel["axes"][0]
    for name, values in panel["curves"].items():
        ax.plot(x, values, lw=2, label=name if len(panel["curves"]) > 1 else None, gid="term_curve")
    symbolic = panel.get("symbolic")
    if symbolic is not None:
        values, label = symbolic
        ax.plot(x, values, "--", color="black", lw=1, label=label, gid="symbolic_fit")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel(panel["inputs"][0])
    ax.set_ylabel("contribution")
    # The data's density: a histogram along the bottom fifth of the panel.
    density = ax.twinx()
    density.hist(panel["data"][:, 0], bins=min(40, max(5, len(x) // 5)), range=(x.min(), x.max()),
                 color="grey", alpha=0.3, gid="term_density")
    top = density.get_ylim()[1]
    density.set_ylim(0, top * 5)
    density.set_yticks([])
    if len(panel["curves"]) > 1 or symbolic is not None:
        ax.legend(fontsize=_LEGEND_SIZE, loc="best")


def _draw_pair(figure, ax, panel):
    first, second = panel["axes"]
    mesh = ax.pcolormesh(first, second, panel["surface"].T, shading="auto", cmap="RdBu_r", gid="term_surface")
    limit = float(np.abs(panel["surface"]).max()) or 1.0
    mesh.set_clim(-limit, limit)
    data = panel["data"]
    shown = data if len(data) <= 2000 else data[np.linspace(0, len(data) - 1, 2000).astype(int)]
    ax.scatter(shown[:, 0], shown[:, 1], s=2, c="black", alpha=0.2, gid="term_density")
    ax.set_xlim(first.min(), first.max())
    ax.set_ylim(second.min(), second.max())
    ax.set_xlabel(panel["inputs"][0])
    ax.set_ylabel(panel["inputs"][1])
    label = "contribution" if panel.get("output") is None else f"contribution ({panel['output']})"
    figure.colorbar(mesh, ax=ax, label=label)


# Term panels: columns per row, inches per panel, font sizes.
_TERM_COLUMNS = 4
_TERM_PANEL_SIZE = (4.0, 3.0)
_TITLE_SIZE = 10
_LEGEND_SIZE = 7
