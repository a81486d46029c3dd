"""One KAN layer: a learnable curve on every edge, contracted with one matmul."""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .basis import bspline_basis, make_extended_grid, spline_tables, uniform_grid

__all__ = ["KANLayer", "weighted_quantiles"]


def weighted_quantiles(x, weights, levels):
    """Linearly interpolated quantiles of each column of ``x`` under ``weights``.

    numpy's default ("linear") quantile of the sample in which every row is repeated
    ``weight`` times, computed without repeating anything: integer weights are
    exactly equivalent to repeated rows, zero weights to removed rows, and the first
    and last levels give the weighted min and max.

    Returns a tensor of shape (len(levels), n_columns).
    """
    order = torch.argsort(x, dim=0)
    values = torch.gather(x, 0, order).t().contiguous()  # (columns, n)
    cumulative = torch.cumsum(weights[order], dim=0).t().contiguous()  # (columns, n)
    total = cumulative[:, -1:]
    position = (total - 1).clamp_min(0) * levels  # (columns, levels) in the repeated sample
    lower = position.floor()
    upper = torch.minimum(lower + 1, (total - 1).clamp_min(0))
    n = values.shape[1]
    # Row m holds repeated positions [C_{m-1}, C_m); zero-weight rows hold none.
    index_lower = torch.searchsorted(cumulative, lower.contiguous(), right=True).clamp_max(n - 1)
    index_upper = torch.searchsorted(cumulative, upper.contiguous(), right=True).clamp_max(n - 1)
    value_lower = torch.gather(values, 1, index_lower)
    value_upper = torch.gather(values, 1, index_upper)
    return (value_lower + (position - lower) * (value_upper - value_lower)).t()


def _widen_degenerate(low, high):
    """Give constant inputs a unit-width range so their knots stay distinct."""
    scale = torch.maximum(low.abs(), high.abs()).clamp_min(1.0)
    degenerate = (high - low) <= 1e-6 * scale
    centre = 0.5 * (low + high)
    low = torch.where(degenerate, centre - 1.0, low)
    high = torch.where(degenerate, centre + 1.0, high)
    return low, high


class KANLayer(nn.Module):
    r"""A Kolmogorov-Arnold layer ``y_j = b_j + sum_i phi_{j,i}(x_i)``.

    Each edge carries ``phi(x) = w_b silu(x) + w_s sum_c c_c B_c(x)`` with B-splines of
    order ``spline_order`` on a per-input grid of ``grid_size`` intervals. The spline
    branch of every edge is evaluated as one ``(batch, in * (G + k))`` basis tensor
    and one matmul; the basis is computed locally (only the ``k + 1`` non-zero
    B-splines) with an exact custom backward.

    Beyond an input's grid range the spline continues as its tangent line at the
    range end (continuously differentiable across it), like the ``silu`` base branch
    it extrapolates linearly; outputs stay finite for any finite input.

    Parameters
    ----------
    in_features, out_features : int
        Layer width.
    grid_size : int, default=5
        Number of grid intervals ``G``.
    spline_order : int, default=3
        B-spline order ``k`` (3 is cubic).
    grid_range : tuple of float, default=(-1.0, 1.0)
        Initial range of every input's grid (adapt it with :meth:`update_grid`).
    noise_scale : float, default=0.1
        Scale of the random initial spline coefficients.
    bias : bool, default=True
        Learn an additive bias per output node.
    generator : torch.Generator, optional
        Source of randomness for the initialisation (never the global RNG).
    device, dtype : optional
        Where and in which precision to create the parameters.

    Attributes
    ----------
    coef : nn.Parameter of shape (out, in, G + k)
        Spline coefficients ``c``.
    scale_base, scale_spline : nn.Parameter of shape (out, in)
        ``w_b`` and ``w_s``.
    grid : buffer of shape (in, G + 2k + 1)
        Extended knot vector of each input.
    mask : buffer of shape (out, in)
        1 for active edges, 0 for pruned ones.
    symbolic_functions : dict
        ``(out_index, in_index) -> function`` for edges replaced by a symbolic curve
        ``c * f(a * x + b) + d`` (see :meth:`set_symbolic`); empty for a pure spline
        layer. ``f`` is any object with ``name`` and ``torch_function()`` (such as
        :class:`skkan.symbolic.SymbolicFunction`).
    symbolic_affine : nn.Parameter of shape (out, in, 4) or None
        ``a, b, c, d`` of the symbolic edges (created with the first one).
    symbolic_mask : buffer of shape (out, in) or None
        1 for symbolic edges: their spline and base branches are switched off.
    """

    def __init__(
        self,
        in_features,
        out_features,
        grid_size=5,
        spline_order=3,
        grid_range=(-1.0, 1.0),
        noise_scale=0.1,
        bias=True,
        generator=None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if spline_order < 1:
            raise ValueError(f"spline_order must be >= 1, got {spline_order}.")
        if grid_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {grid_size}.")
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        self.in_features = in_features
        self.out_features = out_features
        self.grid_size = grid_size
        self.spline_order = spline_order
        n_basis = grid_size + spline_order
        low = torch.full((in_features,), float(grid_range[0]), **factory)
        high = torch.full((in_features,), float(grid_range[1]), **factory)
        self.register_buffer("grid", uniform_grid(low, high, grid_size, spline_order))
        self.register_buffer("mask", torch.ones(out_features, in_features, **factory))
        bound = 1.0 / math.sqrt(in_features)
        self.scale_base = nn.Parameter(
            (torch.rand(out_features, in_features, generator=generator, **factory) * 2 - 1) * bound
        )
        self.scale_spline = nn.Parameter(torch.full((out_features, in_features), bound, **factory))
        self.coef = nn.Parameter(
            torch.randn(out_features, in_features, n_basis, generator=generator, **factory)
            * (noise_scale / math.sqrt(grid_size))
        )
        self.bias = nn.Parameter(torch.zeros(out_features, **factory)) if bias else None
        # The symbolic branch exists only once an edge is snapped to a formula, so pure
        # spline layers carry (and optimise) nothing extra.
        self.register_parameter("symbolic_affine", None)
        self.register_buffer("symbolic_mask", None)
        self.symbolic_functions = {}

    def extra_repr(self):
        text = (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"grid_size={self.grid_size}, spline_order={self.spline_order}"
        )
        if self.symbolic_functions:
            text += f", symbolic_edges={len(self.symbolic_functions)}"
        return text

    # ------------------------------------------------------------------ weights
    def spline_mask(self):
        """1 for edges whose curve is the spline (active and not symbolic)."""
        if self.symbolic_functions:
            return self.mask * (1 - self.symbolic_mask)
        return self.mask

    @torch.no_grad()
    def scale_outputs(self, factor):
        """Multiply every output of the layer by ``factor`` (all its edges and its bias).

        Parameters
        ----------
        factor : float
            E.g. the temperature factor that calibrates a classifier's logits.
        """
        self.scale_base.mul_(factor)
        self.scale_spline.mul_(factor)
        if self.bias is not None:
            self.bias.mul_(factor)
        if self.symbolic_affine is not None:
            self.symbolic_affine[..., 2:].mul_(factor)

    def spline_weight(self):
        """Effective spline coefficients ``w_s * c * mask``, shape (out, in, G + k)."""
        return self.coef * (self.scale_spline * self.spline_mask())[..., None]

    def base_weight(self):
        """Effective base weights ``w_b * mask``, shape (out, in)."""
        return self.scale_base * self.spline_mask()

    def tables(self, dtype=None):
        """Polynomial tables of the current grid, cached until the grid changes."""
        dtype = dtype or self.grid.dtype
        # The cache holds the grid tensor itself: identity plus version counter detect
        # both a replaced grid and an in-place edit (a data_ptr could be reused).
        cached = self.__dict__.get("_tables_cache")
        if cached is None or cached[0] is not self.grid or cached[1] != self.grid._version or cached[2] != dtype:
            cached = (self.grid, self.grid._version, dtype, spline_tables(self.grid, self.spline_order, dtype=dtype))
            self.__dict__["_tables_cache"] = cached
        return cached[3]

    def basis(self, x):
        """B-spline basis of the layer's grid at ``x``: (batch, in, G + k)."""
        return bspline_basis(x, self.grid, self.spline_order, tables=self.tables(x.dtype))

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tables_cache", None)
        state.pop("_symbolic_groups", None)
        return state

    # ------------------------------------------------------------------ symbolic edges
    @torch.no_grad()
    def set_symbolic(self, out_index, in_index, function, affine):
        """Replace the curve of edge (out_index, in_index) by ``c * f(a * x + b) + d``.

        Parameters
        ----------
        out_index, in_index : int
        function : object
            Has ``name`` and ``torch_function()`` returning an elementwise callable.
        affine : sequence of 4 floats
            ``a, b, c, d`` (trainable afterwards, like every other parameter).
        """
        out_index, in_index = int(out_index), int(in_index)
        if not (0 <= out_index < self.out_features and 0 <= in_index < self.in_features):
            raise IndexError(f"Edge ({out_index}, {in_index}) is outside a {self.out_features}x{self.in_features} layer.")
        if self.symbolic_affine is None:
            factory = {"device": self.coef.device, "dtype": self.coef.dtype}
            self.symbolic_affine = nn.Parameter(torch.zeros(self.out_features, self.in_features, 4, **factory))
            self.symbolic_mask = torch.zeros(self.out_features, self.in_features, **factory)
        self.symbolic_affine[out_index, in_index] = torch.as_tensor(affine, dtype=self.coef.dtype).to(self.coef.device)
        self.symbolic_mask[out_index, in_index] = 1.0
        self.symbolic_functions[(out_index, in_index)] = function
        self.__dict__.pop("_symbolic_groups", None)

    @torch.no_grad()
    def clear_symbolic(self, out_index, in_index):
        """Give edge (out_index, in_index) its spline curve back."""
        key = (int(out_index), int(in_index))
        if self.symbolic_functions.pop(key, None) is not None:
            self.symbolic_mask[key] = 0.0
            self.__dict__.pop("_symbolic_groups", None)

    def _symbolic_index(self, x):
        """Symbolic edges grouped by function: [(function, rows, cols)], cached."""
        cached = self.__dict__.get("_symbolic_groups")
        if cached is None or cached[0] != x.device:
            groups = {}
            for (row, col), function in sorted(self.symbolic_functions.items()):
                groups.setdefault(function.name, (function, [], []))
                groups[function.name][1].append(row)
                groups[function.name][2].append(col)
            cached = (
                x.device,
                [
                    (function, torch.tensor(rows, device=x.device), torch.tensor(cols, device=x.device))
                    for function, rows, cols in groups.values()
                ],
            )
            self.__dict__["_symbolic_groups"] = cached
        return cached[1]

    def symbolic_values(self, x):
        """Curves of the symbolic edges at ``x``: a list of (rows, cols, values (batch, n))."""
        result = []
        for function, rows, cols in self._symbolic_index(x):
            affine = self.symbolic_affine[rows, cols]  # (n, 4)
            argument = x.index_select(1, cols) * affine[:, 0] + affine[:, 1]
            values = function.torch_function()(argument) * affine[:, 2] + affine[:, 3]
            result.append((rows, cols, values * self.mask[rows, cols]))
        return result

    # ------------------------------------------------------------------ forward
    def forward(self, x):
        """Apply the layer to ``x`` of shape (batch, in_features)."""
        basis = self.basis(x)
        spline = F.linear(basis.flatten(1), self.spline_weight().flatten(1))  # flatten: also for 0 rows
        output = spline + F.linear(F.silu(x), self.base_weight(), self.bias)
        for rows, _, values in self.symbolic_values(x) if self.symbolic_functions else ():
            output = output.index_add(1, rows, values)
        return output

    def edge_activations(self, x):
        """Value of every edge's curve, ``phi_{j,i}(x_i)``: (batch, out, in)."""
        spline = torch.einsum("bif,oif->boi", self.basis(x), self.spline_weight())
        activations = spline + F.silu(x)[:, None, :] * self.base_weight()
        if self.symbolic_functions:
            symbolic = torch.zeros_like(activations)
            for rows, cols, values in self.symbolic_values(x):
                symbolic[:, rows, cols] = values
            activations = activations + symbolic
        return activations

    def edge_spread(self, x, sample_weight=None):
        """Standard deviation of every edge's activation over the batch: (out, in).

        Computed exactly from each input's covariance of ``[B_0 .. B_{G+k-1}, silu]``
        (in, G+k+1, G+k+1), so no (batch, out, in) tensor is materialised.
        """
        # (in, batch, G + k + 1): one batched matmul gives every input's covariance.
        features = torch.cat([self.basis(x), F.silu(x)[..., None]], dim=-1).transpose(0, 1)
        if sample_weight is None:
            weights = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=x.dtype, device=x.device)
        else:
            weights = sample_weight / sample_weight.sum()
        mean = torch.matmul(weights, features)  # (in, G + k + 1)
        centred = features - mean[:, None, :]
        covariance = torch.bmm(centred.transpose(1, 2), centred * weights[:, None])
        edge_weight = torch.cat([self.spline_weight(), self.base_weight()[..., None]], dim=-1)
        projected = torch.einsum("oif,ifg->oig", edge_weight, covariance)
        variance = (projected * edge_weight).sum(-1).clamp_min(0)
        if self.symbolic_functions:
            # Symbolic edges have zero spline and base weights: add their own variance.
            symbolic = torch.zeros_like(variance)
            for rows, cols, values in self.symbolic_values(x):
                centred = values - torch.matmul(weights, values)
                symbolic[rows, cols] = torch.matmul(weights, centred * centred)
            variance = variance + symbolic
        return variance.add(1e-12).sqrt()

    # ------------------------------------------------------------------ pruning
    @torch.no_grad()
    def keep_nodes(self, inputs=None, outputs=None):
        """Physically drop input and/or output nodes (boolean masks of those to keep).

        The kept edges are unchanged; parameters are replaced by smaller ones, so an
        optimizer built on the old ones must be rebuilt.
        """
        inputs = torch.ones(self.in_features, dtype=torch.bool) if inputs is None else inputs.cpu().bool()
        outputs = torch.ones(self.out_features, dtype=torch.bool) if outputs is None else outputs.cpu().bool()
        device = self.coef.device
        rows, cols = outputs.nonzero().ravel().to(device), inputs.nonzero().ravel().to(device)

        def take(tensor):
            return tensor.index_select(0, rows).index_select(1, cols).contiguous()

        self.coef = nn.Parameter(take(self.coef), requires_grad=self.coef.requires_grad)
        self.scale_base = nn.Parameter(take(self.scale_base), requires_grad=self.scale_base.requires_grad)
        self.scale_spline = nn.Parameter(take(self.scale_spline), requires_grad=self.scale_spline.requires_grad)
        if self.bias is not None:
            self.bias = nn.Parameter(self.bias.index_select(0, rows).contiguous(), requires_grad=self.bias.requires_grad)
        self.mask = take(self.mask)
        if self.symbolic_affine is not None:
            self.symbolic_affine = nn.Parameter(take(self.symbolic_affine), requires_grad=self.symbolic_affine.requires_grad)
            self.symbolic_mask = take(self.symbolic_mask)
            new_row = {int(old): new for new, old in enumerate(rows.tolist())}
            new_col = {int(old): new for new, old in enumerate(cols.tolist())}
            self.symbolic_functions = {
                (new_row[row], new_col[col]): function
                for (row, col), function in self.symbolic_functions.items()
                if row in new_row and col in new_col
            }
            self.__dict__.pop("_symbolic_groups", None)
        self.grid = self.grid.index_select(0, cols).contiguous()
        self.in_features, self.out_features = int(cols.numel()), int(rows.numel())

    # ------------------------------------------------------------------ grid
    @torch.no_grad()
    def _refit(self, new_grid, sample_points=None, keep_curves=True):
        """Replace the grid, fitting new coefficients to the current curves.

        The current spline of every edge is evaluated, in float64, at points spread
        densely over every interval of the new grid (so the least-squares problem is
        well posed wherever there is no data) plus ``sample_points``; the new
        coefficients are the least-squares fit, one batched solve for all inputs.
        ``keep_curves=False`` skips the fit and zeroes the coefficients (for callers
        that set them next).
        """
        k = self.spline_order
        if not keep_curves:
            shape = (self.out_features, self.in_features, new_grid.shape[1] - k - 1)
            if tuple(self.coef.shape) == shape:
                self.coef.zero_()
            else:
                self.coef = nn.Parameter(self.coef.new_zeros(shape), requires_grad=self.coef.requires_grad)
            self.grid = new_grid.to(self.grid.dtype)
            self.grid_size = new_grid.shape[1] - 2 * k - 1
            return
        old_grid = self.grid.double()
        new_grid = new_grid.double()
        interior = new_grid[:, k : new_grid.shape[1] - k]
        per_interval = k + 2
        fractions = (torch.arange(per_interval, dtype=torch.float64, device=new_grid.device) + 0.5) / per_interval
        left, width = interior[:, :-1], interior[:, 1:] - interior[:, :-1]
        dense = (left[..., None] + width[..., None] * fractions).reshape(self.in_features, -1)
        points = torch.cat([dense, interior], dim=1)
        if sample_points is not None:
            points = torch.cat([points, sample_points.double().t()], dim=1)
        points = points.t().contiguous()  # (points, in)
        coef = self.coef.double()
        old_values = torch.einsum("pif,oif->ipo", bspline_basis(points, old_grid, k), coef)
        new_basis = bspline_basis(points, new_grid, k).transpose(0, 1)  # (in, points, F)
        # One batched least-squares solve per layer, on the CPU: an orthogonal (SVD)
        # solver is accurate to cond(A) * eps (normal equations square that) and gives
        # the minimum-norm answer when repeated knots leave a basis unused.
        solution = torch.linalg.lstsq(new_basis.cpu(), old_values.cpu(), driver="gelsd").solution
        new_coef = solution.permute(2, 0, 1).to(device=self.coef.device, dtype=self.coef.dtype)
        self.grid = new_grid.to(self.grid.dtype)
        if new_coef.shape == self.coef.shape:
            # Keep the Parameter object so optimizers holding it stay valid.
            self.coef.copy_(new_coef)
        else:
            self.coef = nn.Parameter(new_coef.contiguous(), requires_grad=self.coef.requires_grad)
        self.grid_size = interior.shape[1] - 1

    @torch.no_grad()
    def update_grid(self, x, grid_eps=0.02, sample_weight=None, n_sample_points=256, keep_curves=True):
        """Adapt the grid to the samples ``x`` while preserving every curve.

        Interior knots are placed at the (weighted) sample quantiles, blended with a
        uniform grid over the sample range: ``grid_eps * uniform + (1 - grid_eps) *
        quantiles`` (pykan's rule); the coefficients are then refitted so the learned
        function is kept. Constant inputs, repeated values and fewer samples than
        knots are handled (repeated knots follow the 0/0 = 0 B-spline convention).
        ``keep_curves=False`` only places the knots and zeroes the coefficients.
        """
        x = x.detach().double()
        weights = torch.ones(x.shape[0], dtype=torch.float64, device=x.device) if sample_weight is None else sample_weight.detach().double()
        levels = torch.linspace(0.0, 1.0, self.grid_size + 1, dtype=torch.float64, device=x.device)
        sample_levels = torch.linspace(0.0, 1.0, n_sample_points, dtype=torch.float64, device=x.device)
        # One sort of the samples serves both sets of quantiles (the sort dominates).
        quantiles = weighted_quantiles(x, weights, torch.cat([levels, sample_levels]))
        adaptive, samples = quantiles[: len(levels)].t(), quantiles[len(levels) :]  # (in, G + 1), (points, in)
        low, high = _widen_degenerate(adaptive[:, 0], adaptive[:, -1])
        adaptive = torch.minimum(torch.maximum(adaptive, low[:, None]), high[:, None])
        adaptive[:, 0], adaptive[:, -1] = low, high
        uniform = low[:, None] + (high - low)[:, None] * levels
        interior = grid_eps * uniform + (1.0 - grid_eps) * adaptive
        # The extreme samples sit a little inside the grid, not on its clamped ends,
        # so a last-bit difference in their activations cannot switch off their
        # spline gradient.
        margin = 0.01 * (high - low) / self.grid_size
        interior[:, 0] -= margin
        interior[:, -1] += margin
        self._refit(make_extended_grid(interior, self.spline_order), sample_points=samples, keep_curves=keep_curves)

    @torch.no_grad()
    def set_identity(self, in_indices, low, high):
        """Make every edge leaving the inputs ``in_indices`` the identity ``phi(x) = x``.

        Each of those inputs gets a uniform grid over ``[low, high]`` (its own range)
        and its edges the coefficients at the knots' Greville abscissae, with which
        B-splines reproduce a straight line exactly; the base branch is switched off.
        Beyond the range the spline continues as its tangent line, so the identity
        holds for every input value.

        Parameters
        ----------
        in_indices : sequence of int
        low, high : torch.Tensor of shape (len(in_indices),)
        """
        k = self.spline_order
        index = torch.as_tensor(list(in_indices), dtype=torch.long, device=self.grid.device)
        low, high = _widen_degenerate(low.to(self.grid), high.to(self.grid))
        grid = uniform_grid(low, high, self.grid_size, k)  # (inputs, G + 2k + 1)
        greville = grid.unfold(1, k, 1)[:, 1 : self.coef.shape[-1] + 1].mean(-1)  # (inputs, G + k)
        self.grid[index] = grid
        self.coef[:, index] = greville.to(self.coef)[None]
        self.scale_spline[:, index] = 1.0
        self.scale_base[:, index] = 0.0

    @torch.no_grad()
    def refine(self, grid_size, keep_curves=True):
        """Switch to ``grid_size`` intervals, keeping the curves (least squares).

        New interior knots interpolate the current ones piecewise linearly, so a
        quantile-adapted grid keeps its density; when ``grid_size`` is a multiple of
        the current size every old knot is kept and the fit is exact.
        ``keep_curves=False`` only places the knots and zeroes the coefficients.
        """
        k = self.spline_order
        old_interior = self.grid.double()[:, k : self.grid.shape[1] - k]
        old_positions = torch.arange(self.grid_size + 1, dtype=torch.float64, device=self.grid.device)
        new_positions = torch.linspace(0, self.grid_size, grid_size + 1, dtype=torch.float64, device=self.grid.device)
        cell = torch.searchsorted(old_positions, new_positions, right=True).clamp(1, self.grid_size) - 1
        frac = new_positions - old_positions[cell]
        interior = old_interior[:, cell] + frac * (old_interior[:, cell + 1] - old_interior[:, cell])
        self._refit(make_extended_grid(interior, k), keep_curves=keep_curves)
