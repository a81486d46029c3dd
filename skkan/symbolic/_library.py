"""The symbolic library: the candidate functions ``f`` of ``c * f(a * x + b) + d``.

A :class:`SymbolicFunction` is one candidate ``f`` with its torch, numpy and sympy
forms, a complexity (simpler functions win near-ties) and what the fit needs to know
about it: where it is defined and which of ``a``, ``b`` are free (``x**2`` absorbs the
scale ``a`` into ``c``, ``exp`` absorbs the shift ``b``). :data:`LIBRARY` holds the
built-in functions; :func:`make_library` turns a user's ``library`` argument (names,
:class:`SymbolicFunction` objects or sympy expressions) into candidates, and
:func:`function_to_spec` / :func:`function_from_spec` describe a function as plain
data for saving fitted models. This module imports no scikit-learn.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["LIBRARY", "SymbolicFunction", "function_from_spec", "function_to_spec", "make_library"]

# Arguments of log, sqrt and 1/x are kept this far from the pole in the torch forms,
# so training that moves an argument out of the fitted domain stays finite.
_TINY = 1e-6


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
    :mod:`skkan.symbolic._serialize`) and its options. Anything else cannot be described by
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
