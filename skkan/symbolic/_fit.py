"""The fit of ``c * f(a * x + b) + d`` to learned curves, and the ranking of fits.

:func:`fit_symbolic` fits every candidate of a library to every curve at once: a
coarse grid over ``(a, b)`` with ``c, d`` in closed form, then Levenberg-Marquardt
refinement of all four, vectorised over curves and candidates.
:func:`rank_candidates` scores the fits as pykan does, with guards against
polynomials in disguise.
"""

import math
from dataclasses import dataclass

import torch

__all__ = ["SymbolicFit", "fit_symbolic", "rank_candidates"]

# Candidate arguments must stay in the function's domain over the curve's input range
# widened by this fraction on each side (no pole right at the edge of the data).
_MARGIN = 0.01


@dataclass
class SymbolicFit:
    """Result of :func:`fit_symbolic` for E curves and K candidates.

    Attributes
    ----------
    r2 : torch.Tensor of shape (E, K)
        Coefficient of determination of each candidate's best fit (``-inf`` where the
        candidate could not be fitted inside its domain).
    params : torch.Tensor of shape (E, K, 4)
        ``a, b, c, d`` of each fit, in the units of the given ``x`` and ``y``.
    shift : torch.Tensor of shape (E, K)
        ``|b|`` of the canonical fit: breaks ties between equivalent forms
        (``sin(z)`` over ``cos(z - pi/2)``).
    amplitude : torch.Tensor of shape (E, K)
        ``max |c f(a x + b)|`` over the points relative to the curve's standard
        deviation. Large values flag degenerate fits that use a sliver of ``f`` with
        a huge ``c`` cancelled by ``d`` (``-93 cos(0.15 x) + 93`` for ``x**2``).
    span : torch.Tensor of shape (E, K)
        Length of the interval of arguments ``a x + b`` that the fit uses (``inf``
        for candidates whose scale is fixed). A short span uses ``f`` as its Taylor
        polynomial (``52 sin(0.038 x)`` for ``2 x``).
    """

    r2: torch.Tensor
    params: torch.Tensor
    shift: torch.Tensor = None
    amplitude: torch.Tensor = None
    span: torch.Tensor = None


def _grid_values(entry):
    """Grid of (alpha, beta) starting points on inputs scaled to [-1, 1]."""
    magnitudes = torch.logspace(math.log10(0.05), math.log10(20.0), 32, dtype=torch.float64)
    shifts = torch.linspace(-4.0, 4.0, 33, dtype=torch.float64)
    far = torch.logspace(math.log10(4.5), math.log10(50.0), 8, dtype=torch.float64)
    shifts = torch.cat([-far.flip(0), shifts, far])
    if entry.period is not None:
        half = (entry.antiperiod or entry.period) / 2
        shifts = torch.linspace(-half, half, 25, dtype=torch.float64)
    one_sign = entry.parity is not None
    if entry.fit == "scale_free":
        alphas = torch.tensor([1.0] if one_sign else [-1.0, 1.0], dtype=torch.float64)
    else:
        alphas = magnitudes if one_sign else torch.cat([-magnitudes.flip(0), magnitudes])
    if entry.fit == "shift_free":
        shifts = torch.zeros(1, dtype=torch.float64)
    alpha, beta = torch.meshgrid(alphas, shifts, indexing="ij")
    return alpha.reshape(-1), beta.reshape(-1)


def _valid(entry, function, alpha, beta, values):
    """Whether (alpha, beta) keeps the argument in the domain for u in the widened range."""
    ends = torch.stack([alpha * -(1 + _MARGIN) + beta, alpha * (1 + _MARGIN) + beta])
    low, high = ends.min(0).values, ends.max(0).values
    ok = torch.isfinite(values).all(-1)
    if entry.domain is not None:
        ok = ok & entry.domain(low, high)
    else:
        ok = ok & torch.isfinite(function(low)) & torch.isfinite(function(high))
    return ok


def _linear_fit(g, v):
    """Closed-form ``c, d`` and the residual of ``c * g + d ~ v`` over the last axis."""
    g_mean = g.mean(-1, keepdim=True)
    centred = g - g_mean
    variance = (centred * centred).mean(-1)
    covariance = (centred * v).mean(-1)
    c = torch.where(variance > 1e-300, covariance / variance.clamp_min(1e-300), torch.zeros_like(variance))
    d = v.mean(-1) - c * g_mean.squeeze(-1)
    residual = ((c[..., None] * g + d[..., None] - v) ** 2).mean(-1)
    return c, d, residual


def _levenberg_marquardt(entries, u, v, params, n_iter):
    """Refine ``c f_k(alpha u + beta) + d ~ v`` for every entry ``f_k`` and curve at once.

    ``params`` has shape (K, E, 4): one start per entry and curve (``u``, ``v``: (E, n)).
    Every (entry, curve) row has its own damping, so the rows are independent; they
    share each step's linear algebra because a library of about twenty entries made
    per-entry steps costly in small-tensor overhead, not in arithmetic. Returns the
    refined parameters (K, E, 4), the mean squared residuals (K, E) and each fit's
    ``f_k(alpha u + beta)`` at the refined parameters (K, E, n).
    """
    n_entries, n_curves = params.shape[:2]
    functions = [entry.torch_function() for entry in entries]
    free = torch.ones(n_entries, 1, 4, dtype=torch.float64)
    for k, entry in enumerate(entries):
        if entry.fit == "scale_free":
            free[k, :, 0] = 0.0
        if entry.fit == "shift_free":
            free[k, :, 1] = 0.0
    free = free.expand(-1, n_curves, -1).reshape(-1, 4)
    u = u.repeat(n_entries, 1)  # entry-major rows, as params.reshape(-1, 4)
    v = v.repeat(n_entries, 1)
    params = params.reshape(-1, 4)
    blocks = [slice(k * n_curves, (k + 1) * n_curves) for k in range(n_entries)]

    def evaluate(p):
        z = (p[:, :1] * u + p[:, 1:2]).detach()
        g, slope = torch.empty_like(z), torch.empty_like(z)
        with torch.enable_grad():
            for function, rows in zip(functions, blocks):
                argument = z[rows].requires_grad_(True)
                values = function(argument)
                (slope[rows],) = torch.autograd.grad(values.sum(), argument)
                g[rows] = values.detach()
        residual = p[:, 2:3] * g + p[:, 3:4] - v
        return g, slope, residual

    def valid(p, g):
        return torch.cat([
            _valid(entry, function, p[rows, 0], p[rows, 1], g[rows])
            for entry, function, rows in zip(entries, functions, blocks)
        ])

    g, slope, residual = evaluate(params)
    loss = (residual**2).mean(-1)
    damping = torch.full_like(loss, 1e-3)
    eye = torch.eye(4, dtype=torch.float64)
    fixed = torch.diag_embed(1 - free)
    for _ in range(n_iter):
        jacobian = torch.stack(
            [params[:, 2:3] * slope * u, params[:, 2:3] * slope, g, torch.ones_like(g)], dim=-1
        ) * free[:, None, :]  # (R, n, 4)
        jacobian = torch.nan_to_num(jacobian, nan=0.0, posinf=0.0, neginf=0.0)
        normal = jacobian.transpose(1, 2) @ jacobian
        gradient = (jacobian.transpose(1, 2) @ torch.nan_to_num(residual)[..., None])[..., 0]
        diagonal = torch.diagonal(normal, dim1=1, dim2=2)
        system = normal + damping[:, None, None] * (torch.diag_embed(diagonal) + 1e-12 * eye) + fixed
        step = torch.linalg.solve(system, -gradient[..., None])[..., 0]
        candidate = params + torch.nan_to_num(step) * free
        g_new, slope_new, residual_new = evaluate(candidate)
        loss_new = (residual_new**2).mean(-1)
        ok = valid(candidate, g_new) & (loss_new < loss)
        params = torch.where(ok[:, None], candidate, params)
        g = torch.where(ok[:, None], g_new, g)
        slope = torch.where(ok[:, None], slope_new, slope)
        residual = torch.where(ok[:, None], residual_new, residual)
        loss = torch.where(ok, loss_new, loss)
        damping = torch.where(ok, damping / 3, damping * 4).clamp(1e-12, 1e12)
    return params.reshape(n_entries, n_curves, 4), loss.reshape(n_entries, n_curves), g.reshape(n_entries, n_curves, -1)


def fit_symbolic(x, y, library, n_iter=25, n_grid_points=48):
    """Fit ``c * f(a * x + b) + d`` to E curves for every candidate ``f``.

    Parameters
    ----------
    x, y : torch.Tensor of shape (E, P)
        Sample points of each curve and its values there (float64 is used).
    library : list of SymbolicFunction
    n_iter : int, default=25
        Levenberg-Marquardt iterations after the grid search.
    n_grid_points : int, default=48
        Points (a subset of the P) on which the coarse grid is scored.

    Returns
    -------
    SymbolicFit
        R^2 and parameters (in the units of ``x`` and ``y``) for every curve and
        candidate. A constant curve is fitted exactly by every candidate (R^2 = 1,
        ``c = 0``).
    """
    x = x.detach().to(torch.float64, copy=True).cpu()
    y = y.detach().to(torch.float64, copy=True).cpu()
    n_edges, n_points = x.shape
    centre = 0.5 * (x.max(1).values + x.min(1).values)
    half_width = (0.5 * (x.max(1).values - x.min(1).values)).clamp_min(1e-12)
    u = (x - centre[:, None]) / half_width[:, None]
    y_mean = y.mean(1)
    y_scale = y.std(1, unbiased=False)
    constant = y_scale <= 1e-10 * y_mean.abs().clamp_min(1.0)
    v = (y - y_mean[:, None]) / torch.where(constant, torch.ones_like(y_scale), y_scale)[:, None]
    subset = torch.linspace(0, n_points - 1, min(n_grid_points, n_points)).round().long()
    r2 = torch.full((n_edges, len(library)), -math.inf, dtype=torch.float64)
    params = torch.zeros(n_edges, len(library), 4, dtype=torch.float64)
    amplitude = torch.zeros(n_edges, len(library), dtype=torch.float64)
    span = torch.full((n_edges, len(library)), math.inf, dtype=torch.float64)
    # Every other entry starts from its best point of a coarse grid and is refined
    # with the rest at once.
    refined_entries, starts, found = [], [], []
    for k, entry in enumerate(library):
        function = entry.torch_function()
        if entry.fit == "constant":
            r2[:, k], params[:, k, 3] = 0.0, 0.0
            continue
        if entry.fit == "linear":
            c, d, residual = _linear_fit(u, v)
            r2[:, k] = 1 - residual
            params[:, k] = torch.stack([torch.ones_like(c), torch.zeros_like(c), c, d], -1)
            amplitude[:, k] = c.abs()
            continue
        alpha, beta = _grid_values(entry)  # (A,)
        with torch.no_grad():
            z = alpha[None, :, None] * u[:, None, subset] + beta[None, :, None]  # (E, A, n)
            g = function(z)
            ok = _valid(entry, function, alpha[None, :].expand(n_edges, -1), beta[None, :].expand(n_edges, -1), g)
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
            c, d, residual = _linear_fit(g, v[:, None, subset])
            degenerate = (g.std(-1) <= 1e-12)
            residual = torch.where(ok & ~degenerate, residual, torch.full_like(residual, math.inf))
            best = residual.argmin(1)  # (E,)
        rows = torch.arange(n_edges)
        refined_entries.append(k)
        starts.append(torch.stack([alpha[best], beta[best], c[rows, best], d[rows, best]], -1))
        found.append(torch.isfinite(residual[rows, best]))
    if refined_entries:
        refined, loss, values = _levenberg_marquardt(
            [library[k] for k in refined_entries], u, v, torch.stack(starts), n_iter
        )
    for position, k in enumerate(refined_entries):
        r2[:, k] = torch.where(found[position], 1 - loss[position], torch.full_like(loss[position], -math.inf))
        params[:, k] = refined[position]
        amplitude[:, k] = torch.nan_to_num((refined[position, :, 2:3] * values[position]).abs().amax(-1), nan=math.inf)
        if library[k].fit in ("general", "shift_free"):
            span[:, k] = 2 * refined[position, :, 0].abs()
    # Back to the units of x and y: alpha u + beta with u = (x - centre) / half_width.
    a = params[..., 0] / half_width[:, None]
    b = params[..., 1] - params[..., 0] * (centre / half_width)[:, None]
    scale = torch.where(constant, torch.zeros_like(y_scale), y_scale)[:, None]
    c = params[..., 2] * scale
    d = params[..., 3] * scale + y_mean[:, None]
    r2 = torch.where(constant[:, None], torch.ones_like(r2), r2)
    c = torch.where(constant[:, None], torch.zeros_like(c), c)
    d = torch.where(constant[:, None], y_mean[:, None].expand_as(d), d)
    for k, entry in enumerate(library):
        a[:, k], b[:, k], c[:, k], d[:, k] = entry.canonical(a[:, k], b[:, k], c[:, k], d[:, k])
    amplitude = torch.where(constant[:, None], torch.zeros_like(amplitude), amplitude)
    span = torch.where(constant[:, None], torch.full_like(span, math.inf), span)
    return SymbolicFit(r2=r2, params=torch.stack([a, b, c, d], -1), shift=b.abs(), amplitude=amplitude, span=span)


def rank_candidates(fit, library, weight_simple=0.5):
    """Scores of every candidate (lower is better; ``inf`` for failed fits).

    pykan's ranking, ``weight_simple * complexity + (1 - weight_simple) *
    log2(1 - R^2)``, plus ``(1 - weight_simple) * log2(1 + (amplitude / 10)**2)``: a fit
    that needs a huge ``c`` cancelled by ``d`` is a polynomial in disguise and loses
    to the polynomial, and so does, with ``(1 - weight_simple) * log2(1 + (0.5 /
    span)**2)``, a fit that uses less than about half a unit of its function's
    argument (a polynomial in disguise too). Residuals below 1e-4 (R^2 above 0.9999) count as equal: a
    learned spline is not more exact than that, and a sliver of ``sin`` fitting its
    last wiggle better than ``x`` does is no reason to pick ``sin``. Equivalent forms
    are ordered by their shift ``|b|``.
    """
    complexity = torch.tensor([float(entry.complexity) for entry in library], dtype=torch.float64)
    error = (1 - fit.r2).clamp_min(0) + 1e-4
    score = weight_simple * complexity + (1 - weight_simple) * torch.log2(error)
    if fit.amplitude is not None:
        score = score + (1 - weight_simple) * torch.log2(1 + (fit.amplitude / 10) ** 2)
    if fit.span is not None:
        score = score + (1 - weight_simple) * torch.log2(1 + (0.5 / fit.span) ** 2)
    if fit.shift is not None:
        score = score + 1e-3 * fit.shift.clamp_max(10.0)
    return torch.where(torch.isfinite(fit.r2), score, torch.full_like(score, math.inf))
