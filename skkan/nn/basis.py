"""B-spline bases on per-input knot vectors, evaluated locally.

On each grid interval only ``k + 1`` B-splines are non-zero, and each is a polynomial
of degree ``k``. :func:`spline_tables` computes those polynomials once per grid (exact
de Boor values in float64, any knot spacing, repeated knots allowed); evaluating the
basis is then a search for the interval, ``k`` fused multiply-adds, and a scatter into
the dense ``(batch, in, G + k)`` tensor that a layer contracts with one matmul. This
costs O(k) per input instead of the O(k (G + k)) of the full Cox-de Boor table.

Outside ``[t_k, t_{G+k}]`` (the grid's own range) every basis function continues
along its tangent at the nearest end (a linear tail), so a spline extends as a
straight line instead of dropping to zero, stays continuously differentiable across
the grid ends (no kink a physics-informed loss could hide in) and is finite for any
finite input; second and higher derivatives there are zero.

The evaluation is an :class:`torch.autograd.Function` whose backward calls the same
function for the next derivative order, so gradients of any order with respect to
the inputs are exact (a physics-informed loss can take ``d2u/dx2``). On the CPU, large
batches take the same values from the fused kernels of :mod:`skkan.nn._compiled`
(the basis, and the first-order ``dL/dx`` of training); higher orders always come
from the torch formulation here.
"""

import math
from typing import NamedTuple

import torch

from . import _compiled

__all__ = ["SplineTables", "bspline_basis", "make_extended_grid", "spline_tables", "uniform_grid"]


def uniform_grid(low, high, grid_size, spline_order):
    """Uniform extended knot vectors.

    Parameters
    ----------
    low, high : torch.Tensor of shape (n_inputs,)
        Range of each input.
    grid_size : int
        Number of intervals ``G`` inside ``[low, high]``.
    spline_order : int
        Spline order ``k``; ``k`` extra knots are added on each side.

    Returns
    -------
    torch.Tensor of shape (n_inputs, G + 2k + 1)
    """
    steps = torch.linspace(0.0, 1.0, grid_size + 1, dtype=low.dtype, device=low.device)
    interior = low[:, None] + (high - low)[:, None] * steps
    return make_extended_grid(interior, spline_order)


def make_extended_grid(interior, spline_order):
    """Extend interior knots ``(n_inputs, G + 1)`` by ``k`` knots on each side.

    The extension uses the mean interior spacing, as pykan does, so the outer
    B-splines have a sensible width even when the interior grid is non-uniform.
    """
    grid_size = interior.shape[1] - 1
    step = (interior[:, -1] - interior[:, 0]) / grid_size
    offsets = torch.arange(1, spline_order + 1, dtype=interior.dtype, device=interior.device)
    left = interior[:, :1] - step[:, None] * offsets.flip(0)
    right = interior[:, -1:] + step[:, None] * offsets
    return torch.cat([left, interior, right], dim=1)


def _safe_div(numerator, denominator):
    # Repeated knots give zero-width intervals; the B-spline convention is 0/0 = 0.
    zero = denominator == 0
    return torch.where(zero, torch.zeros_like(numerator), numerator / torch.where(zero, torch.ones_like(denominator), denominator))


def _local_basis(x_clamped, knots, spline_order, derivative):
    """The ``k + 1`` non-zero B-splines (or their ``derivative``-th derivative).

    ``knots[..., q]`` holds ``t_{s + q - k + 1}``. Orders ``1 .. k - m`` use the
    Cox-de Boor value step, the last ``m`` orders the derivative step
    ``B'_{j,p} = p (B_{j,p-1} / (t_{j+p} - t_j) - B_{j+1,p-1} / (t_{j+p+1} - t_{j+1}))``.
    """
    k = spline_order
    values = [torch.ones_like(x_clamped)]
    for order in range(1, k + 1):
        value_step = order <= k - derivative
        new_values = []
        for r in range(order + 1):
            # Basis j = s - order + r; knots t_{j+a} live at index j + a - s + k - 1.
            base = r - order + k - 1
            total = torch.zeros_like(x_clamped)
            if r >= 1:
                t_left, t_right = knots[..., base], knots[..., base + order]
                weight = (x_clamped - t_left) if value_step else torch.full_like(x_clamped, float(order))
                total = total + _safe_div(weight, t_right - t_left) * values[r - 1]
            if r <= order - 1:
                t_left, t_right = knots[..., base + 1], knots[..., base + order + 1]
                weight = (t_right - x_clamped) if value_step else torch.full_like(x_clamped, -float(order))
                total = total + _safe_div(weight, t_right - t_left) * values[r]
            new_values.append(total)
        values = new_values
    return torch.stack(values, dim=-1)


class SplineTables(NamedTuple):
    """Per-interval polynomial form of the B-splines of one grid.

    On interval ``s`` (``t_{k+s} <= x < t_{k+s+1}``) the ``k + 1`` non-zero B-splines
    are polynomials in the local coordinate ``v = (x - middle) * 2 / width`` (from -1
    to 1 across the interval). Row ``i * G + s`` of ``rows`` holds
    ``[2 / width, left, poly]`` with ``poly[d, r]`` the
    coefficient of ``v^d`` in the ``r``-th of them; ``dpoly`` holds their
    x-derivatives the same way.
    """

    low: torch.Tensor  # (in,) start of the grid range
    high: torch.Tensor  # (in,) end of the grid range
    inner_knots: torch.Tensor  # (in, G - 1) interior knots without the ends
    rows: torch.Tensor  # (in * G, 2 + (k + 1)^2)
    dpoly: torch.Tensor  # (in * G, k, k + 1)
    start: torch.Tensor  # (in * G,) int64 first basis column of each interval
    row_offset: torch.Tensor  # (in,) int64, i * G
    basis_offset: torch.Tensor  # (k + 1,) int64, 0 .. k
    minus_one: torch.Tensor  # scalar -1 of the tables' dtype
    tail_slope_low: torch.Tensor  # (in, k + 1) x-derivative of the active bases at low
    tail_slope_high: torch.Tensor  # (in, k + 1) x-derivative of the active bases at high
    has_repeated_knots: bool
    spline_order: int


def spline_tables(grid, spline_order, dtype=None):
    """Build :class:`SplineTables` for ``grid`` (float64 inside, ``dtype`` out).

    Zero-width intervals (repeated knots) borrow the nearest wider interval on their
    left, which gives the left limit of the bases there.
    """
    k = spline_order
    dtype = dtype or grid.dtype
    device = grid.device
    grid64 = grid.detach().double()
    n_inputs, n_knots = grid64.shape
    grid_size = n_knots - 2 * k - 1
    interior = grid64[:, k : n_knots - k]
    width = interior[:, 1:] - interior[:, :-1]
    positive = width > 0
    # Index of the last positive-width interval at or before s (first one if none).
    index = torch.arange(grid_size, device=device).expand(n_inputs, grid_size)
    marked = torch.where(positive, index, torch.full_like(index, -1))
    start = torch.cummax(marked, dim=1).values
    first_positive = torch.where(positive, index, torch.full_like(index, grid_size)).amin(1, keepdim=True)
    start = torch.where(start < 0, first_positive.clamp(max=grid_size - 1), start)
    left = torch.gather(interior[:, :-1], 1, start)
    chosen_width = torch.gather(width, 1, start)
    inv_width = torch.where(chosen_width > 0, 1.0 / chosen_width.clamp_min(1e-300), torch.zeros_like(chosen_width))
    # Sample each interval at k + 1 Chebyshev nodes and solve the Vandermonde system.
    # Polynomials in v in [-1, 1] (not [0, 1]) keep float32 cancellation small.
    nodes = -torch.cos(torch.pi * (torch.arange(k + 1, dtype=torch.float64, device=device) + 0.5) / (k + 1))
    middle = left + 0.5 * chosen_width
    x_nodes = middle[..., None] + 0.5 * chosen_width[..., None] * nodes  # (in, G, k + 1)
    inv_half_width = 2.0 * inv_width
    offsets = torch.arange(-k + 1, k + 1, device=device)
    knots = torch.gather(grid64[:, None, :].expand(-1, grid_size, -1), 2, (start + k)[..., None] + offsets)
    values = _local_basis(x_nodes, knots[:, :, None, :].expand(-1, -1, k + 1, -1), k, 0)  # (in, G, q, r)
    powers = torch.arange(k + 1, dtype=torch.float64, device=device)
    poly = torch.linalg.solve(nodes[:, None] ** powers, values)  # (in, G, d, r)
    dpoly = poly[:, :, 1:, :] * powers[1:, None] * inv_half_width[..., None, None]
    rows = torch.cat([inv_half_width[..., None], left[..., None], poly.flatten(2)], dim=-1)
    return SplineTables(
        low=interior[:, 0].to(dtype),
        high=interior[:, -1].to(dtype),
        inner_knots=interior[:, 1:-1].to(dtype).contiguous(),
        rows=rows.reshape(n_inputs * grid_size, -1).to(dtype).contiguous(),
        dpoly=dpoly.reshape(n_inputs * grid_size, k, k + 1).to(dtype).contiguous(),
        start=start.reshape(-1),
        row_offset=torch.arange(n_inputs, device=device) * grid_size,
        basis_offset=torch.arange(k + 1, device=device),
        minus_one=torch.tensor(-1.0, dtype=dtype, device=device),
        tail_slope_low=_horner(dpoly[:, 0], torch.full((n_inputs,), -1.0, dtype=torch.float64, device=device)).to(dtype),
        tail_slope_high=_horner(dpoly[:, -1], torch.full((n_inputs,), 1.0, dtype=torch.float64, device=device)).to(dtype),
        has_repeated_knots=not bool(positive.all()),
        spline_order=k,
    )


def _horner(coefficients, u):
    """Evaluate ``sum_d coefficients[..., d, :] u^d`` for every row."""
    u = u[..., None]
    result = coefficients[..., -1, :]
    for d in range(coefficients.shape[-2] - 2, -1, -1):
        result = torch.addcmul(coefficients[..., d, :], result, u)
    return result


def _locate(x, tables):
    """Clamp ``x`` and find its interval: (clamped x, table row per input)."""
    x_clamped = torch.clamp(x, tables.low, tables.high)
    inner = tables.inner_knots
    if inner.shape[1] == 0:
        interval = tables.row_offset.expand(x.shape)
    elif inner.shape[1] <= 64:
        # Counting the inner knots at or below x: no transposes, unlike searchsorted.
        interval = (x_clamped[..., None] >= inner).sum(-1, dtype=torch.uint8 if inner.shape[1] < 255 else torch.int64)
        interval = interval + tables.row_offset
    else:
        interval = torch.searchsorted(inner, x_clamped.t().contiguous(), right=True).t()
        interval = interval + tables.row_offset
    return x_clamped, interval


def _local_derivative(tables, flat, u, derivative):
    """The ``derivative``-th x-derivative (>= 1) of the k + 1 active bases."""
    k = tables.spline_order
    if derivative > k:
        return u.new_zeros(u.shape + (k + 1,))
    rows = flat.reshape(-1)
    first = tables.dpoly.index_select(0, rows).reshape(flat.shape + (k, k + 1))
    if derivative == 1:
        return _horner(first, u)
    # Higher orders: differentiate the first-derivative polynomial further in u.
    scale = tables.rows.index_select(0, rows)[:, 0].reshape(flat.shape)
    factors = [float(math.perm(d, derivative - 1)) for d in range(derivative - 1, k)]
    scaled = first[..., derivative - 1 :, :] * torch.tensor(factors, dtype=u.dtype, device=u.device)[:, None]
    return _horner(scaled, u) * (scale ** (derivative - 1))[..., None]


def _dense_basis(x, tables, derivative):
    k = tables.spline_order
    x_clamped, flat = _locate(x, tables)
    # The explicit width keeps an empty batch well defined.
    rows = tables.rows.index_select(0, flat.reshape(-1)).reshape(flat.shape + (tables.rows.shape[1],))
    # Subtracting the knot first is exact in float32 (the knot is stored exactly,
    # unless a rounded midpoint or x * scale - knot * scale would be).
    u = torch.addcmul(tables.minus_one, x_clamped - rows[..., 1], rows[..., 0])
    if derivative == 0:
        local = _horner(rows[..., 2:].unflatten(-1, (k + 1, k + 1)), u)
        if not bool(torch.equal(x, x_clamped)):
            # Linear tail: beyond the grid each basis continues along its tangent, whose
            # slope at either end is a per-input constant of the tables.
            below = (x - tables.low).clamp_max(0)[..., None]
            above = (x - tables.high).clamp_min(0)[..., None]
            local = torch.addcmul(torch.addcmul(local, below, tables.tail_slope_low), above, tables.tail_slope_high)
    else:
        local = _local_derivative(tables, flat, u, derivative)
        if derivative >= 2:
            local = local * (x_clamped == x)[..., None]  # the tails are straight lines
    first_column = tables.start[flat] if tables.has_repeated_knots else flat - tables.row_offset
    columns = first_column[..., None] + tables.basis_offset
    dense = x.new_zeros(x.shape + (tables.dpoly.shape[0] // x.shape[1] + k,))
    dense.scatter_(-1, columns, local)
    return dense, columns, flat, u, x_clamped


class _BSplineBasis(torch.autograd.Function):
    """Dense basis (or its ``derivative``-th derivative) with an exact backward."""

    @staticmethod
    def forward(ctx, x, tables, derivative):
        ctx.save_for_backward(x)
        ctx.tables = tables
        ctx.derivative = derivative
        if derivative == 0 and _compiled.usable(x, tables):
            # One fused pass; the backward recomputes what it needs from x.
            ctx.local_state = None
            return _compiled.basis_forward(x, tables)
        dense, columns, flat, u, x_clamped = _dense_basis(x, tables, derivative)
        ctx.local_state = (columns, flat, u, x_clamped)
        return dense

    @staticmethod
    def backward(ctx, grad_dense):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (x,) = ctx.saved_tensors
        tables, derivative = ctx.tables, ctx.derivative
        if derivative >= tables.spline_order:
            # A piecewise polynomial of degree k: its (k+1)-th derivative is zero.
            return torch.zeros_like(x), None, None
        if torch.is_grad_enabled():
            # Higher-order gradients requested: stay differentiable by calling the
            # next derivative order through this same Function.
            next_dense = _BSplineBasis.apply(x, tables, derivative + 1)
            return (grad_dense * next_dense).sum(-1), None, None
        # First-order training path: only the k + 1 active derivatives are needed.
        if ctx.local_state is None:
            return _compiled.basis_backward(x, grad_dense, tables), None, None
        columns, flat, u, x_clamped = ctx.local_state
        local = _local_derivative(tables, flat, u, derivative + 1)
        grad_x = (grad_dense.gather(-1, columns) * local).sum(-1)
        if derivative + 1 >= 2:
            grad_x = grad_x * (x_clamped == x)  # the tails are straight lines
        return grad_x, None, None


def bspline_basis(x, grid, spline_order, derivative=0, tables=None):
    """Evaluate all B-splines of order ``k`` on per-input knot vectors.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_inputs)
        Inputs; beyond an input's grid range ``[t_k, t_{G+k}]`` the bases continue
        linearly (along their tangent at the range end).
    grid : torch.Tensor of shape (n_inputs, G + 2k + 1)
        Non-decreasing extended knot vectors (repeated knots allowed).
    spline_order : int
        Order ``k >= 1`` (``k = 3``: cubic).
    derivative : int, default=0
        Return this derivative of the bases with respect to ``x`` instead.
    tables : SplineTables, optional
        Precomputed :func:`spline_tables` of ``grid`` (layers cache them).

    Returns
    -------
    torch.Tensor of shape (batch, n_inputs, G + k)
        Differentiable to any order with respect to ``x``.
    """
    if tables is None:
        tables = spline_tables(grid, spline_order, dtype=x.dtype)
    return _BSplineBasis.apply(x, tables, derivative)
