"""The symbolic library and the fit of ``c * f(a * x + b) + d`` to learned curves.

A :class:`SymbolicFunction` is one candidate ``f`` with its torch, numpy and sympy
forms, a complexity (simpler functions win near-ties) and what the fit needs to know
about it: where it is defined and which of ``a``, ``b`` are free (``x**2`` absorbs the
scale ``a`` into ``c``, ``exp`` absorbs the shift ``b``). :data:`LIBRARY` holds the
built-in functions; :func:`make_library` turns a user's ``library`` argument (names,
:class:`SymbolicFunction` objects or sympy expressions) into candidates.

:func:`fit_symbolic` fits every candidate to every curve at once: a coarse grid over
``(a, b)`` with ``c, d`` in closed form, then Levenberg-Marquardt refinement of all
four, vectorised over curves and candidates. Snapping a whole network is the job of
:mod:`skkan._snapping`. This module imports no scikit-learn.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "LIBRARY",
    "SymbolicFit",
    "SymbolicFunction",
    "fit_symbolic",
    "function_from_spec",
    "function_to_spec",
    "make_library",
    "rank_candidates",
]

# Arguments of log, sqrt and 1/x are kept this far from the pole in the torch forms,
# so training that moves an argument out of the fitted domain stays finite.
_TINY = 1e-6
# Candidate arguments must stay in the function's domain over the curve's input range
# widened by this fraction on each side (no pole right at the edge of the data).
_MARGIN = 0.01


# ---------------------------------------------------------------- torch forms
def _torch_identity(z):
    return z


def _torch_square(z):
    return z * z


def _torch_cube(z):
    return z * z * z


def _torch_fourth(z):
    return (z * z) * (z * z)


def _torch_away_from_zero(z):
    return torch.where(z >= 0, z.clamp_min(_TINY), z.clamp_max(-_TINY))


def _torch_reciprocal(z):
    return 1.0 / _torch_away_from_zero(z)


def _torch_reciprocal_square(z):
    safe = _torch_away_from_zero(z)
    return 1.0 / (safe * safe)


def _torch_reciprocal_sum(z):
    return z + _torch_reciprocal(z)


def _torch_sqrt(z):
    return torch.sqrt(z.clamp_min(_TINY))


def _torch_exp(z):
    # exp(80) is 5e34: beyond it an argument has left any fitted range.
    return torch.exp(z.clamp_max(80.0))


def _torch_log(z):
    return torch.log(z.clamp_min(_TINY))


def _torch_arcsin(z):
    return torch.asin(z.clamp(-1.0, 1.0))


def _torch_gaussian(z):
    return torch.exp(-(z * z))


def _torch_zero(z):
    return torch.zeros_like(z)


# ---------------------------------------------------------------- numpy forms
def _numpy_identity(z):
    return np.asarray(z, dtype=np.float64)


def _numpy_square(z):
    return np.square(z)


def _numpy_cube(z):
    return np.power(z, 3)


def _numpy_fourth(z):
    return np.power(z, 4)


def _numpy_reciprocal(z):
    return 1.0 / np.asarray(z, dtype=np.float64)


def _numpy_reciprocal_square(z):
    return 1.0 / np.square(np.asarray(z, dtype=np.float64))


def _numpy_reciprocal_sum(z):
    z = np.asarray(z, dtype=np.float64)
    return z + 1.0 / z


def _numpy_gaussian(z):
    return np.exp(-np.square(z))


def _numpy_zero(z):
    return np.zeros_like(np.asarray(z, dtype=np.float64))


# ---------------------------------------------------------------- domains
# Each takes the lowest and highest argument over the (widened) input range and says,
# elementwise, whether the whole interval lies in the domain.
def _domain_positive(low, high):
    return low > 0


def _domain_nonnegative(low, high):
    return low >= 0


def _domain_nonzero(low, high):
    return (low > 0) | (high < 0)


def _domain_unit(low, high):
    return (low >= -1) & (high <= 1)


def _domain_tan(low, high):
    # No pole pi/2 + k*pi inside [low, high].
    return torch.floor(low / math.pi + 0.5) == torch.floor(high / math.pi + 0.5)


@dataclass(eq=False)
class SymbolicFunction:
    """One candidate function ``f`` of the symbolic library.

    Parameters
    ----------
    name : str
        Name used in reports (and to select it from :data:`LIBRARY`).
    expression : str or sympy.Expr
        ``f`` as a sympy expression of the symbol ``x`` (``"sinh(x)"``).
    torch : callable, optional
        Elementwise torch form. Derived from ``expression`` (``sympy.lambdify``) when
        omitted, which also keeps the function picklable.
    numpy : callable, optional
        Elementwise numpy form; derived from ``expression`` when omitted.
    complexity : float, default=2
        Cost of the function in the ranking (pykan's scale: ``x`` 1, ``x**2`` 2,
        ``tanh`` 3, ``arctan`` 4); ``0`` has complexity 0.
    domain : callable, optional
        ``domain(low, high) -> bool tensor``: whether arguments ``low..high`` are all
        valid. When omitted, a candidate is valid where ``f`` is finite.
    parity : {"even", "odd"}, optional
        Symmetry used to put fits in a canonical form (``a > 0``).
    period : float, optional
        Period of ``f``; shifts ``b`` are reduced to one period.
    antiperiod : float, optional
        ``f(z + antiperiod) = -f(z)`` (``pi`` for sin and cos): shifts are reduced
        further, flipping the sign of ``c``.
    fit : {"general", "scale_free", "shift_free", "linear", "constant"}, default="general"
        Which affine parameters are identifiable: ``"scale_free"`` fixes ``|a| = 1``
        (for ``a > 0``, ``f(a z) = a**p f(z)`` or ``log(a) + f(z)``: powers, log),
        ``"shift_free"`` fixes ``b = 0`` (exp), ``"linear"`` is ``c x + d``,
        ``"constant"`` is ``d``.
    homogeneity : float or "log", optional
        For ``"scale_free"`` functions, ``p`` in ``f(a z) = a**p f(z)`` (``a > 0``), or
        ``"log"`` for ``f(a z) = log(a) + f(z)``.
    """

    name: str
    expression: object
    torch: object = None
    numpy: object = None
    complexity: float = 2
    domain: object = None
    parity: object = None
    period: object = None
    antiperiod: object = None
    fit: str = "general"
    homogeneity: object = None
    _derived: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.fit not in ("general", "scale_free", "shift_free", "linear", "constant"):
            raise ValueError(f"Unknown fit kind {self.fit!r} for symbolic function {self.name!r}.")
        if self.parity not in (None, "even", "odd"):
            raise ValueError(f"parity must be None, 'even' or 'odd', got {self.parity!r}.")
        if self.fit == "scale_free" and self.homogeneity is None:
            raise ValueError(f"A scale_free symbolic function needs its homogeneity ({self.name!r}).")

    # Derived callables are rebuilt after unpickling: lambdified code cannot be pickled.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_derived"] = {}
        return state

    def sympy_expression(self):
        """``f`` as a sympy expression of ``Symbol("x")``."""
        expression = self._derived.get("sympy")
        if expression is None:
            import sympy

            expression = sympy.sympify(self.expression, locals={"x": sympy.Symbol("x")})
            self._derived["sympy"] = expression
        return expression

    def sympy(self, argument):
        """``f(argument)`` for a sympy expression ``argument``."""
        import sympy

        return self.sympy_expression().xreplace({sympy.Symbol("x"): argument})

    def _lambdified(self, module):
        function = self._derived.get(module)
        if function is None:
            import sympy

            expression = self.sympy_expression()
            symbol = sympy.Symbol("x")
            lambdified = sympy.lambdify(symbol, expression, modules=module)
            if symbol not in expression.free_symbols:
                # A constant expression lambdifies to a scalar: broadcast it.
                zeros = torch.zeros_like if module == "torch" else np.zeros_like

                def function(z, _value=lambdified):
                    return zeros(z) + _value(z)

            else:
                function = lambdified
            self._derived[module] = function
        return function

    def torch_function(self):
        """The elementwise torch callable."""
        return self.torch if self.torch is not None else self._lambdified("torch")

    def numpy_function(self):
        """The elementwise numpy callable."""
        return self.numpy if self.numpy is not None else self._lambdified("numpy")

    def canonical(self, a, b, c, d):
        """Equivalent parameters in canonical form (``a >= 0`` and a reduced shift).

        Works elementwise on numbers, numpy arrays or tensors of parameters. A
        linear fit becomes ``c x + d`` (``a = 1, b = 0``), a scale-free one has
        ``|a| = 1``.
        """
        lib = torch if isinstance(a, torch.Tensor) else np
        if self.fit == "constant":
            return a, b, c * 0, d
        if self.fit == "linear":
            return a * 0 + 1, b * 0, c * a, c * b + d
        if self.fit == "scale_free":
            magnitude = lib.abs(a)
            magnitude = lib.where(magnitude > 0, magnitude, magnitude * 0 + 1)
            a, b = a / magnitude, b / magnitude
            if self.homogeneity == "log":
                d = d + c * lib.log(magnitude)
            else:
                c = c * magnitude**self.homogeneity
        if self.parity is not None:
            flip = a < 0
            a, b = lib.where(flip, -a, a), lib.where(flip, -b, b)
            if self.parity == "odd":
                c = lib.where(flip, -c, c)
        if self.period is not None:
            b = b - self.period * lib.round(b / self.period)
        if self.antiperiod is not None:
            flip = lib.abs(b) > self.antiperiod / 2
            b = lib.where(flip, b - lib.sign(b) * self.antiperiod, b)
            c = lib.where(flip, -c, c)
        return a, b, c, d


def _builtin(name, expression, torch_form, numpy_form, complexity, **options):
    return SymbolicFunction(name, expression, torch=torch_form, numpy=numpy_form, complexity=complexity, **options)


#: The built-in candidates, by name (pykan's names and complexities).
LIBRARY = {
    entry.name: entry
    for entry in (
        _builtin("x", "x", _torch_identity, _numpy_identity, 1, fit="linear"),
        _builtin("x^2", "x**2", _torch_square, _numpy_square, 2, parity="even", fit="scale_free", homogeneity=2),
        _builtin("x^3", "x**3", _torch_cube, _numpy_cube, 3, parity="odd", fit="scale_free", homogeneity=3),
        _builtin("x^4", "x**4", _torch_fourth, _numpy_fourth, 4, parity="even", fit="scale_free", homogeneity=4),
        _builtin("1/x", "1/x", _torch_reciprocal, _numpy_reciprocal, 2, parity="odd", fit="scale_free", homogeneity=-1, domain=_domain_nonzero),
        _builtin("1/x^2", "x**(-2)", _torch_reciprocal_square, _numpy_reciprocal_square, 2, parity="even", fit="scale_free", homogeneity=-2, domain=_domain_nonzero),
        # x + 1/x = 2*cosh(log x): how a ratio of like quantities enters a symmetric law
        # (x1/x2 + x2/x1 in the law of cosines over x1*x2).
        _builtin("x+1/x", "x + 1/x", _torch_reciprocal_sum, _numpy_reciprocal_sum, 3, parity="odd", domain=_domain_nonzero),
        _builtin("sqrt", "sqrt(x)", _torch_sqrt, np.sqrt, 2, fit="scale_free", homogeneity=0.5, domain=_domain_nonnegative),
        _builtin("exp", "exp(x)", _torch_exp, np.exp, 2, fit="shift_free"),
        _builtin("log", "log(x)", _torch_log, np.log, 2, fit="scale_free", homogeneity="log", domain=_domain_positive),
        _builtin("sin", "sin(x)", torch.sin, np.sin, 2, parity="odd", period=2 * math.pi, antiperiod=math.pi),
        _builtin("cos", "cos(x)", torch.cos, np.cos, 2, parity="even", period=2 * math.pi, antiperiod=math.pi),
        _builtin("tan", "tan(x)", torch.tan, np.tan, 3, parity="odd", period=math.pi, domain=_domain_tan),
        _builtin("tanh", "tanh(x)", torch.tanh, np.tanh, 3, parity="odd"),
        _builtin("abs", "Abs(x)", torch.abs, np.abs, 3, parity="even", fit="scale_free", homogeneity=1),
        _builtin("arctan", "atan(x)", torch.atan, np.arctan, 4, parity="odd"),
        _builtin("arcsin", "asin(x)", _torch_arcsin, np.arcsin, 4, parity="odd", domain=_domain_unit),
        _builtin("gaussian", "exp(-x**2)", _torch_gaussian, _numpy_gaussian, 3, parity="even"),
        _builtin("0", "0", _torch_zero, _numpy_zero, 0, fit="constant"),
    )
}


_SPEC_FIELDS = ("complexity", "parity", "period", "antiperiod", "fit", "homogeneity")


def function_to_spec(function):
    """A symbolic function as plain data (for saving fitted models), or None.

    A function of :data:`LIBRARY` is its name alone: ``{"name": "sin"}``. A
    :class:`SymbolicFunction` defined by its expression (no ``torch``, ``numpy`` or
    ``domain`` callables of its own) is its name, its expression (exact JSON, see
    :mod:`skkan._serialize`) and its options. Anything else cannot be described by
    data and gives None (the caller keeps the object itself).
    """
    if not isinstance(function, SymbolicFunction):
        return None
    builtin = LIBRARY.get(function.name)
    if builtin is not None and (
        function is builtin
        or all(getattr(function, name) is getattr(builtin, name) or getattr(function, name) == getattr(builtin, name)
               for name in ("expression", "torch", "numpy", "domain", *_SPEC_FIELDS))
    ):
        return {"name": function.name}
    if function.torch is not None or function.numpy is not None or function.domain is not None:
        return None
    from ._serialize import expression_to_json

    spec = {"name": function.name, "expression": expression_to_json(function.sympy_expression())}
    spec.update({name: getattr(function, name) for name in _SPEC_FIELDS})
    return spec


def function_from_spec(spec):
    """The symbolic function of :func:`function_to_spec`."""
    if "expression" not in spec:
        if spec["name"] not in LIBRARY:
            raise ValueError(f"Unknown built-in symbolic function {spec['name']!r} in a saved model.")
        return LIBRARY[spec["name"]]
    from ._serialize import expression_from_json

    options = {name: spec[name] for name in _SPEC_FIELDS if name in spec}
    return SymbolicFunction(str(spec["name"]), expression_from_json(spec["expression"]), **options)


def make_library(library=None):
    """The list of candidates described by ``library``.

    Parameters
    ----------
    library : None, str, SymbolicFunction, sequence or dict
        ``None`` is every function of :data:`LIBRARY`. Otherwise names of built-in
        functions (``"sin"``), :class:`SymbolicFunction` objects, or a dict
        ``name -> expression`` (a sympy expression or string in ``x``, such as
        ``{"sinh": "sinh(x)"}``) or ``name -> SymbolicFunction``.

    Returns
    -------
    list of SymbolicFunction
    """
    if library is None:
        return list(LIBRARY.values())
    if isinstance(library, (str, SymbolicFunction)):
        library = [library]
    items = list(library.items()) if isinstance(library, dict) else [(None, item) for item in library]
    entries = []
    for name, item in items:
        if isinstance(item, SymbolicFunction):
            entries.append(item)
        elif name is None and isinstance(item, str):
            if item not in LIBRARY:
                raise ValueError(f"Unknown symbolic function {item!r}; the built-in ones are {sorted(LIBRARY)}.")
            entries.append(LIBRARY[item])
        elif name is not None:
            entries.append(SymbolicFunction(str(name), item))
        else:
            raise TypeError(
                "library entries must be names of built-in functions, SymbolicFunction objects, "
                f"or a dict name -> expression; got {item!r}."
            )
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"library has repeated names: {names}.")
    if not entries:
        raise ValueError("library is empty.")
    return entries


# ---------------------------------------------------------------- fitting
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


def _levenberg_marquardt(entry, function, u, v, params, n_iter):
    """Refine ``c f(alpha u + beta) + d ~ v`` for a batch of starts (R, 4)."""
    free = torch.ones(4, dtype=torch.float64)
    if entry.fit == "scale_free":
        free[0] = 0.0
    if entry.fit == "shift_free":
        free[1] = 0.0

    def evaluate(p):
        z = p[:, :1] * u + p[:, 1:2]
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            g = function(z)
            (slope,) = torch.autograd.grad(g.sum(), z)
        g = g.detach()
        residual = p[:, 2:3] * g + p[:, 3:4] - v
        return g, slope, residual

    g, slope, residual = evaluate(params)
    loss = (residual**2).mean(-1)
    damping = torch.full_like(loss, 1e-3)
    eye = torch.eye(4, dtype=torch.float64)
    for _ in range(n_iter):
        jacobian = torch.stack(
            [params[:, 2:3] * slope * u, params[:, 2:3] * slope, g, torch.ones_like(g)], dim=-1
        ) * free  # (R, n, 4)
        jacobian = torch.nan_to_num(jacobian, nan=0.0, posinf=0.0, neginf=0.0)
        normal = jacobian.transpose(1, 2) @ jacobian
        gradient = (jacobian.transpose(1, 2) @ torch.nan_to_num(residual)[..., None])[..., 0]
        diagonal = torch.diagonal(normal, dim1=1, dim2=2)
        system = normal + damping[:, None, None] * (torch.diag_embed(diagonal) + 1e-12 * eye) + (1 - free) * eye
        step = torch.linalg.solve(system, -gradient[..., None])[..., 0]
        candidate = params + torch.nan_to_num(step) * free
        g_new, slope_new, residual_new = evaluate(candidate)
        loss_new = (residual_new**2).mean(-1)
        ok = _valid(entry, function, candidate[:, 0], candidate[:, 1], g_new) & (loss_new < loss)
        params = torch.where(ok[:, None], candidate, params)
        g = torch.where(ok[:, None], g_new, g)
        slope = torch.where(ok[:, None], slope_new, slope)
        residual = torch.where(ok[:, None], residual_new, residual)
        loss = torch.where(ok, loss_new, loss)
        damping = torch.where(ok, damping / 3, damping * 4).clamp(1e-12, 1e12)
    return params, loss


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
        start = torch.stack([alpha[best], beta[best], c[rows, best], d[rows, best]], -1)
        found = torch.isfinite(residual[rows, best])
        refined, loss = _levenberg_marquardt(entry, function, u, v, start, n_iter)
        r2[:, k] = torch.where(found, 1 - loss, torch.full_like(loss, -math.inf))
        params[:, k] = refined
        with torch.no_grad():
            values = function(refined[:, :1] * u + refined[:, 1:2])
        amplitude[:, k] = torch.nan_to_num((refined[:, 2:3] * values).abs().amax(-1), nan=math.inf)
        if entry.fit in ("general", "shift_free"):
            span[:, k] = 2 * refined[:, 0].abs()
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
