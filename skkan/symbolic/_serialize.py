"""sympy expressions as plain JSON text, read back without ``eval`` (private).

Fitted estimators are saved as numpy arrays and plain python values (see
``BaseKAN.__getstate__``), so that ``skops.io`` can load them without trusting
arbitrary types. sympy expressions are stored as the JSON of their expression tree:
``sympy.sympify``/``parse_expr`` on a string would ``eval`` it, so a file that
``skops`` was told to trust could still run code. Reading only ever looks up sympy
classes by name among a fixed set (core operations, numbers, and
:class:`sympy.Function` subclasses that sympy exports), and floats keep every bit
(their mpmath ``_mpf_`` tuple and precision), so a stored formula evaluates exactly
as the original did.
"""

import json

__all__ = ["expression_from_json", "expression_to_json"]

_CORE = ("Add", "Mul", "Pow", "Symbol", "Integer", "Rational", "Float")
# Singletons, by their ``sympy.S`` name.
_CONSTANTS = (
    "Pi", "Exp1", "ImaginaryUnit", "Infinity", "NegativeInfinity", "ComplexInfinity", "NaN",
    "EulerGamma", "GoldenRatio", "Catalan",
)


def _to_tree(expression):

    if expression.is_Symbol:
        return ["Symbol", expression.name]
    if expression.is_Float:
        sign, mantissa, exponent, bits = expression._mpf_
        return ["Float", sign, str(mantissa), exponent, bits, expression._prec]
    if expression.is_Integer:
        return ["Integer", str(int(expression))]
    if expression.is_Rational:
        return ["Rational", str(expression.p), str(expression.q)]
    name = type(expression).__name__
    if name in _CONSTANTS:
        return ["Constant", name]
    if name not in _CORE and not _is_function(name):
        raise TypeError(f"Cannot store the sympy object {expression!r} (type {name}).")
    return [name, *(_to_tree(argument) for argument in expression.args)]


def _is_function(name):
    import sympy

    cls = getattr(sympy, name, None)
    return isinstance(cls, type) and issubclass(cls, sympy.Function)


def _from_tree(tree):
    import sympy
    from mpmath.libmp import MPZ

    kind, rest = tree[0], tree[1:]
    if kind == "Symbol":
        return sympy.Symbol(str(rest[0]))
    if kind == "Float":
        sign, mantissa, exponent, bits, precision = rest
        return sympy.Float._new((int(sign), MPZ(int(mantissa)), int(exponent), int(bits)), int(precision))
    if kind == "Integer":
        return sympy.Integer(int(rest[0]))
    if kind == "Rational":
        return sympy.Rational(int(rest[0]), int(rest[1]))
    if kind == "Constant":
        if rest[0] not in _CONSTANTS:
            raise ValueError(f"Unknown sympy constant {rest[0]!r} in a stored formula.")
        return getattr(sympy.S, rest[0])
    if kind not in _CORE and not _is_function(kind):
        raise ValueError(f"Unknown sympy class {kind!r} in a stored formula.")
    arguments = [_from_tree(item) for item in rest]
    # evaluate=False rebuilds the stored tree as it was (its arguments are already
    # in sympy's canonical order), without re-simplifying it.
    return getattr(sympy, kind)(*arguments, evaluate=False)


def expression_to_json(expression):
    """A sympy expression as JSON text (exact: floats keep every bit)."""
    import sympy

    return json.dumps(_to_tree(sympy.sympify(expression)), separators=(",", ":"))


def expression_from_json(text):
    """The sympy expression of :func:`expression_to_json` (no ``eval``)."""
    return _from_tree(json.loads(text))
