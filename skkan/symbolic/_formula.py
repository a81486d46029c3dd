"""A fitted KAN as sympy expressions in the user's units (private; see ``get_formula``).

The network is read, never changed. Each node's value is carried as ``R + K``: a
sympy expression ``R`` without a constant term, the constant ``K``, and the values of
``R`` on the training rows, so constants and terms that are negligible next to what
they are added to can be dropped at the requested precision. Edges that are still splines
become sympy functions ``spline_<layer>_<out>_<in>`` with a numeric implementation
attached, so ``sympy.lambdify`` evaluates the formula exactly as the network does.
"""

import math
import re

import numpy as np
import torch

from ..nn.basis import bspline_basis

__all__ = ["FormulaReport", "build_formulas", "estimator_symbols", "formula_symbols", "round_floats", "spline_name"]


def spline_name(layer, out_index, in_index):
    """Name of the placeholder function of a spline edge."""
    return f"spline_{layer}_{out_index}_{in_index}"


def formula_symbols(names):
    """sympy symbols named exactly after ``names`` (sympy takes any string).

    Column names stay readable in formulas (``sepal length (cm)``, not
    ``sepal_length__cm_``); a repeated name gets a numbered suffix so that every input
    has its own symbol, and a name of the form of a spline placeholder
    (``spline_0_1_2``) a trailing underscore. :func:`skkan.symbolic._simplify.lambdify_inputs` evaluates
    formulas whose names are not Python identifiers or shadow a function.
    """
    import sympy

    symbols, seen = [], set()
    for name in names:
        text = str(name)
        if re.fullmatch(r"spline_\d+_\d+_\d+", text):
            text += "_"  # the name of a spline placeholder function would hide it
        base, counter = text, 1
        while text in seen:
            text = f"{base}_{counter}"
            counter += 1
        seen.add(text)
        symbols.append(sympy.Symbol(text))
    return symbols


def estimator_symbols(estimator):
    """Symbols of a fitted estimator's inputs: ``feature_names_in_`` or ``x0, x1, ...``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{i}" for i in range(estimator.n_features_in_)]
    return formula_symbols(names)


def _round_number(value, precision):
    """``precision`` decimals, or ``precision`` significant digits when that keeps more."""
    if value == 0 or not math.isfinite(value):
        return value
    decimals = max(precision, precision - 1 - math.floor(math.log10(abs(value))))
    return round(value, decimals)


def round_floats(expression, precision):
    """Round every float of ``expression`` (see :func:`_round_number`)."""
    import sympy

    if precision is None:
        return expression
    replacements = {}
    for number in expression.atoms(sympy.Float):
        rounded = _round_number(float(number), precision)
        replacements[number] = sympy.Integer(0) if rounded == 0 else sympy.Float(rounded)
    return expression.xreplace(replacements)


def _edge_curve(layer, out_index, in_index, low=None, high=None):
    """A numpy function evaluating one spline edge's curve (a float64 copy of it)."""
    grid = layer.grid[in_index : in_index + 1].detach().double().cpu().clone()
    coef = layer.coef[out_index, in_index].detach().double().cpu().clone()
    scale_spline = float(layer.scale_spline[out_index, in_index].detach())
    scale_base = float(layer.scale_base[out_index, in_index].detach())
    order = layer.spline_order

    def curve(values):
        values = np.asarray(values, dtype=np.float64)
        shape = values.shape
        flat = values.reshape(-1)
        if low is not None:
            flat = np.clip(flat, low, high)
        x = torch.as_tensor(flat)[:, None]
        with torch.no_grad():
            spline = bspline_basis(x, grid, order)[:, 0, :] @ coef
            result = scale_spline * spline + scale_base * torch.nn.functional.silu(x[:, 0])
        return result.numpy().reshape(shape)

    return curve


class _Node:
    """A node's value ``rest + constant``; ``values`` are those of ``rest`` on the data."""

    def __init__(self, rest, constant, values, scale=1.0):
        self.rest = rest
        self.constant = float(constant)
        self.values = values
        # rest = scale * (the expression written), so an input's affine argument
        # a * h + b reads a * scale * x + b' with one coefficient.
        self.scale = scale

    def expression(self):
        return self.rest * self.scale + self.constant


def _negligible(constant, values, tolerance):
    """Whether an additive constant is below ``tolerance`` of what it is added to."""
    if tolerance is None:
        return False
    magnitude = float(np.max(np.abs(values))) if values.size else 0.0
    return abs(constant) <= tolerance * magnitude


def build_formulas(module, data, symbols, x_mean, x_scale, x_low, x_high, out_scale, out_offset, precision):
    """One sympy expression per network output, in the user's units.

    Parameters
    ----------
    module : skkan.nn.KAN
        The network (float64 on the CPU), read only.
    data : torch.Tensor of shape (n, n_features)
        Standardised training rows: they decide which constants are negligible.
    symbols : list of sympy.Symbol
        One per input feature.
    x_mean, x_scale, x_low, x_high : ndarray of shape (n_features,)
        The estimator's input standardisation and the clipping range (standardised).
    out_scale, out_offset : ndarray of shape (n_outputs,)
        ``output = out_scale * network + out_offset``.
    precision : int or None
        Decimals kept (see :func:`round_floats`); None keeps every digit.

    Returns
    -------
    expressions : list of sympy.Expr
    spline_edges : list of tuple
        ``(layer, out_index, in_index)`` of the edges still splines.
    """
    import sympy
    from sympy.utilities.lambdify import implemented_function

    tolerance = None if precision is None else 0.5 * 10.0 ** (-precision)
    with torch.no_grad():
        values = [v.double().cpu().numpy() for v in module.layer_inputs(data)]
    # Layer 0: the network sees (x - mean) / scale, i.e. rest = x with scale 1/scale.
    nodes = [
        _Node(symbol, -mean / scale, values[0][:, i] * scale + mean, scale=1.0 / scale)
        for i, (symbol, mean, scale) in enumerate(zip(symbols, x_mean, x_scale))
    ]
    spline_edges = []
    n_layers = len(module.layers)
    for index, layer in enumerate(module.layers):
        last = index == n_layers - 1
        mask = layer.mask.detach().cpu().numpy()
        bias = layer.bias.detach().double().cpu().numpy() if layer.bias is not None else np.zeros(layer.out_features)
        affine = layer.symbolic_affine.detach().double().cpu().numpy() if layer.symbolic_affine is not None else None
        layer_in = torch.as_tensor(values[index])
        with torch.no_grad():
            activations = layer.edge_activations(layer_in).double().numpy()  # (n, out, in)
        new_nodes = []
        for j in range(layer.out_features):
            terms, constant = [], float(bias[j])  # terms: (expression, values on the data)
            for i in range(layer.in_features):
                if not mask[j, i]:
                    continue
                node = nodes[i]
                function = layer.symbolic_functions.get((j, i))
                if function is None:
                    spline_edges.append((index, j, i))
                    bounds = (x_low[i], x_high[i]) if index == 0 else (None, None)
                    curve = implemented_function(spline_name(index, j, i), _edge_curve(layer, j, i, *bounds))
                    terms.append((curve(node.expression()), activations[:, j, i]))
                    continue
                a, b, c, d = affine[j, i]
                # a * (scale * rest + constant) + b = A * rest + B
                big_a, big_b = a * node.scale, a * node.constant + b
                big_a, big_b, c, d = (float(v) for v in function.canonical(big_a, big_b, c, d))
                if function.fit == "constant" or c == 0:
                    constant += d
                    continue
                if function.fit == "linear":
                    terms.append((c * big_a * node.rest, c * big_a * node.values))
                    constant += c * big_b + d
                    continue
                if function.fit == "shift_free":
                    # c * exp(A r + B) = (c e^B) * exp(A r): exact, and the usual form.
                    c, big_b = c * math.exp(big_b), 0.0
                elif _negligible(big_b, big_a * node.values, tolerance):
                    big_b = 0.0
                scaled = node.rest if big_a == 1 else -node.rest if big_a == -1 else big_a * node.rest
                argument = scaled + big_b
                argument_values = big_a * node.values + big_b
                terms.append((c * function.sympy(argument), c * function.numpy_function()(argument_values)))
                constant += d
            if tolerance is not None and len(terms) > 1:
                # A term that moves the node by less than the precision is noise (a
                # 3e-10 * exp(...) left by retraining): leave it out of the formula.
                total = np.max(np.abs(sum(term for _, term in terms)))
                terms = [(e, v) for e, v in terms if np.max(np.abs(v)) > tolerance * total] or terms
            rest = sympy.Add(*(expression for expression, _ in terms))
            term_values = sum((term for _, term in terms), np.zeros(len(values[0])))
            if last:
                rest = out_scale[j] * rest
                term_values = out_scale[j] * term_values
                constant = out_scale[j] * constant + out_offset[j]
            new_nodes.append(_Node(rest, constant, term_values))
        nodes = new_nodes
    expressions = []
    for node in nodes:
        constant = 0.0 if _negligible(node.constant, node.values, tolerance) else node.constant
        expressions.append(round_floats(node.rest + constant, precision))
    return expressions, spline_edges


class FormulaReport:
    """Fidelity of a KAN's formula (see ``formula_report``).

    Attributes
    ----------
    formula : sympy.Expr, list or dict
        As returned by ``get_formula``.
    r2 : ndarray of shape (n_outputs,)
        R^2 of the formula against the network's outputs (predictions for a
        regressor, decision scores for a classifier).
    max_abs_error : ndarray of shape (n_outputs,)
    spline_edges : list of str
        Placeholder names of the edges that are still splines.
    symbolic_edges : list of dict
        One record per edge considered by ``auto_symbolic``: layer, output, input,
        chosen function (None if it stayed a spline), R^2 and the best candidates.
    n_outside_range : int
        Rows with at least one feature outside the range seen in training.
        ``predict`` clips those features to the range; the formula does not, so on
        these rows the two can differ by much more than elsewhere (large
        ``max_abs_error`` beside an R^2 near 1).
    max_abs_error_in_range : ndarray of shape (n_outputs,)
        ``max_abs_error`` over the other rows (0 if there are none).
    r2_in_range : ndarray of shape (n_outputs,)
        ``r2`` over the other rows (1 if there are none): how faithful the formula
        is where the network was trained.
    snapping_scores : tuple (before, after) or None
        The estimator's ``score`` on the data given to the last ``auto_symbolic``,
        before and after snapping (None when it had no data).
    """

    def __init__(
        self,
        formula,
        r2,
        max_abs_error,
        spline_edges,
        symbolic_edges,
        n_outside_range=0,
        max_abs_error_in_range=None,
        snapping_scores=None,
        r2_in_range=None,
    ):
        self.formula = formula
        self.r2 = r2
        self.max_abs_error = max_abs_error
        self.spline_edges = spline_edges
        self.symbolic_edges = symbolic_edges
        self.snapping_scores = snapping_scores
        self.n_outside_range = n_outside_range
        self.max_abs_error_in_range = max_abs_error if max_abs_error_in_range is None else max_abs_error_in_range
        self.r2_in_range = r2 if r2_in_range is None else r2_in_range

    def __repr__(self):
        formula = str(self.formula)
        if len(formula) > _REPR_FORMULA:
            formula = formula[: _REPR_FORMULA - 3] + "..."
        parts = [
            f"r2={np.round(self.r2, 6).tolist()}",
            f"max_abs_error={np.round(self.max_abs_error, 6).tolist()}",
        ]
        if self.n_outside_range:
            parts.append(
                f"n_outside_range={self.n_outside_range} (the formula does not clip; "
                f"max_abs_error_in_range={np.round(self.max_abs_error_in_range, 6).tolist()}, "
                f"r2_in_range={np.round(self.r2_in_range, 6).tolist()})"
            )
        if self.snapping_scores is not None:
            parts.append(f"score before/after snapping={np.round(self.snapping_scores, 4).tolist()}")
        parts.append(f"spline_edges={len(self.spline_edges)}")
        parts.append(f"formula={formula}")
        return "FormulaReport(" + ", ".join(parts) + ")"


# Characters of the formula shown by FormulaReport's repr (the full one is .formula).
_REPR_FORMULA = 120
