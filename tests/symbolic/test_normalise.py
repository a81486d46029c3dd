"""Formulas as people write them (issue 20, item 3): normalised trigonometry, no huge
rationals, no cancelling large constants, and never a result larger than the input."""

import numpy as np
import pytest
import sympy

from skkan.symbolic._simplify import (
    LOSS_FLOOR,
    MAX_RATIONAL,
    complexity,
    evaluate,
    float_count,
    linearisations,
    normalise_formula,
    rescale_sums,
    simplify_formula,
    tame_rationals,
)

x0, x1, x2 = sympy.symbols("x0:3")
SYMBOLS = [x0, x1, x2]


def _data(law, low, high, seed, n_rows=300):
    rng = np.random.default_rng(seed)
    X = rng.uniform(low, high, size=(n_rows, 3))
    return X, law(X)


def _simplify(expression, law, low=-1.0, high=1.0, seed=0):
    X_fit, y_fit = _data(law, low, high, seed)
    X_val, y_val = _data(law, low, high, seed + 1000, 200)
    path = simplify_formula(sympy.sympify(expression), SYMBOLS, X_fit, y_fit, X_val, y_val)
    return path, (X_fit, y_fit, X_val, y_val)


def _best(path):
    def rank(step):
        loss = max(step.validation_loss, LOSS_FLOOR)
        return loss, step.complexity, float_count(step.expression), str(step.expression)

    return min(path, key=rank)


def _large_rationals(expression):
    return [r for r in expression.atoms(sympy.Rational) if abs(r.p) > MAX_RATIONAL or r.q > MAX_RATIONAL]


def _rows(seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=(100, 3))


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("1 - 2*cos(x2/2 + pi/4)**2", "sin(x2)"),
        ("4*sin(x0/2 + pi/4)**2 - 2", "2*sin(x0)"),
        ("2*x1*sin(x0)*cos(x0)", "x1*sin(2*x0)"),
        ("x1 + sin(x0)**2 + cos(x0)**2", "x1 + 1"),
        ("x0*exp(-x1) + 1 - 2*cos(x2/2 + pi/4)**2", "x0*exp(-x1) + sin(x2)"),
        ("sin(x0)*cos(x1) + cos(x0)*sin(x1)", "sin(x0 + x1)"),
        ("cos(x0)**2 - sin(x0)**2", "cos(2*x0)"),
        ("1/2 - cos(4*pi*x0*x1/x2)/2", "sin(2*pi*x0*x1/x2)**2"),
        ("3 + 3*cos(2*x0*x1)", "6*cos(x0*x1)**2"),
        ("x1*sin(2*x0) + cos(2*x2) + 3/10", "x1*sin(2*x0) + cos(2*x2) + 3/10"),
        ("2 - 2*cos(x0)", "2 - 2*cos(x0)"),
    ],
)
def test_trigonometric_forms_are_normalised(expression, expected):
    """Products and powers of sines and cosines with exact arguments become the short form."""
    result = normalise_formula(sympy.sympify(expression), SYMBOLS, _rows())
    assert result == sympy.sympify(expected)


@pytest.mark.parametrize(
    "expression",
    [
        "1 - 2*cos(x2/2 + pi/4)**2",
        "1.5*cos(x0/2)**2 - 0.75 + x1",
        "3.2*sin(x0)*cos(x1) + 0.4*sin(x0 - x1)",
        "tan(x0)*cos(x0) + x1**2",
        "sqrt(x0**2 + 1)*sin(2*x1)**2 + cos(x1)**4",
        "exp(x0)/(1 + sin(x1)**2)",
        "0.5 - 0.5*cos(4*x0) + x1*cos(2*x2)",
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_normalising_keeps_values_and_never_grows(expression, seed):
    """Whatever the rewriting, the result is no more complex and equal on fresh rows."""
    expression = sympy.sympify(expression)
    result = normalise_formula(expression, SYMBOLS, _rows(seed))
    assert complexity(result) <= complexity(expression)
    check = _rows(seed + 100, -1.5, 1.5)
    before, after = evaluate(expression, SYMBOLS, check), evaluate(result, SYMBOLS, check)
    finite = np.isfinite(before)
    np.testing.assert_allclose(after[finite], before[finite], rtol=1e-7, atol=1e-9 * np.max(np.abs(before[finite])))


def test_simplified_trigonometric_formula_prints_as_the_law():
    """A network's ``1 - 2*cos(x2/2 + pi/4)**2`` with noisy constants comes out as sin(x2)."""
    path, _ = _simplify(
        "1.0000001 - 2.00001*cos(0.50000001*x2 + 0.7853981)**2 + 0.99999*x0*exp(-1.00002*x1)",
        lambda X: X[:, 0] * np.exp(-X[:, 1]) + np.sin(X[:, 2]),
    )
    best = _best(path)
    assert best.expression == x0 * sympy.exp(-x1) + sympy.sin(x2)
    assert best.validation_loss <= LOSS_FLOOR


def test_huge_rationals_print_as_floats():
    """Integers and rationals of more than four digits become floats; small ones stay exact."""
    expression = sympy.sympify("1973191344649/(x0**2 + 624826692941*x0/2 + 1915528622735/4) + 3*x1/4 + x2**2")
    tamed = tame_rationals(expression)
    assert not _large_rationals(tamed)
    assert sympy.Rational(3, 4) in tamed.atoms(sympy.Rational)
    assert tamed.atoms(sympy.Float)
    rows = _rows()
    np.testing.assert_allclose(evaluate(tamed, SYMBOLS, rows), evaluate(expression, SYMBOLS, rows), rtol=1e-12)
    assert normalise_formula(expression, SYMBOLS, rows) == tamed


@pytest.mark.parametrize("constant", [987654.3, -123456.789, 31415926.5])
def test_large_constants_are_not_snapped_to_huge_integers(constant):
    """A large constant stays a float: no step of the path holds a rational of more than four digits."""
    path, _ = _simplify(
        f"{constant * 1.0000001}*x0 + 0.4999*x1**2",
        lambda X: constant * X[:, 0] + 0.5 * X[:, 1] ** 2,
        low=0.5,
        high=2.0,
    )
    for step in path:
        assert not _large_rationals(step.expression), step.expression
    assert _best(path).validation_loss <= 1e-10


@pytest.mark.parametrize("scale", [1000.0, 8321.0])
def test_cancelling_large_terms_become_their_first_order_form(scale):
    """``-c*sin(x0) + c*sin(x0 + e*g(x1))`` with large c and small e is ``c*e*g(x1)*cos(x0)``."""
    shift = 1.0 / scale
    path, _ = _simplify(
        f"{-scale * (1 - 1e-8)}*sin(x0) + {scale}*sin(x0 + {shift * 1.0001}*cot(x1))",
        lambda X: np.cos(X[:, 0]) / np.tan(X[:, 1]),
        low=0.5,
        high=1.5,
    )
    best = _best(path)
    assert best.expression == sympy.cos(x0) * sympy.cot(x1)
    assert best.validation_loss <= LOSS_FLOOR


def test_linearisation_only_where_terms_cancel():
    """A sum whose terms do not cancel gives no candidate; one that cancels gives a shorter one."""
    rows = _rows(0, 0.5, 1.5)
    assert linearisations(sympy.sympify("2.0*sin(x0) + 3.0*cos(x1 + 0.1)"), SYMBOLS, rows) == []
    assert linearisations(sympy.sympify("20.0*sin(x0) + 30.0*cos(x1 + 0.1)"), SYMBOLS, rows) == []
    cancelling = sympy.sympify("-500.0*exp(x0) + 500.0*exp(x0 + 0.002*x1)")
    candidates = linearisations(cancelling, SYMBOLS, rows)
    assert candidates
    assert all(complexity(c) < complexity(cancelling) for c in candidates)
    assert any(c.free_symbols == {x0, x1} and c.has(sympy.exp) for c in candidates)


def _random_expression(rng, depth=3):
    """A random formula in x0, x1, x2 with float constants near simple values."""
    leaves = [x0, x1, x2]
    if depth == 0 or rng.random() < 0.25:
        leaf = leaves[rng.integers(3)]
        return sympy.Float(round(rng.uniform(0.5, 3.0) * 2) / 2 * (1 + 1e-4 * rng.standard_normal())) * leaf
    kind = rng.integers(6)
    a, b = _random_expression(rng, depth - 1), _random_expression(rng, depth - 1)
    if kind == 0:
        return a + b
    if kind == 1:
        return a * b
    if kind == 2:
        return sympy.sin(a) + sympy.Float(1 + 1e-4 * rng.standard_normal()) * b
    if kind == 3:
        return sympy.cos(a + sympy.Float(np.pi / 2 + 1e-5 * rng.standard_normal())) * b
    if kind == 4:
        return sympy.exp(-sympy.Float(0.1 * rng.uniform(0.5, 1.5)) * a**2) + b
    return a**2 + sympy.Float(rng.uniform(0.1, 0.5)) * b


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_simplification_never_returns_a_larger_formula(seed):
    """On random formulas, every step of the path is at most as complex as the input
    and reports the loss its expression really has."""
    rng = np.random.default_rng(seed)
    expression = _random_expression(rng)
    exact = {f: sympy.nsimplify(round(float(f), 2), [sympy.pi]) for f in expression.atoms(sympy.Float)}
    law = sympy.lambdify(SYMBOLS, expression.xreplace(exact), "numpy")
    path, (X_fit, y_fit, X_val, y_val) = _simplify(
        expression, lambda X: np.broadcast_to(law(*X.T), (len(X),)), 0.5, 2.0, seed
    )
    assert path
    # An approximate formula's roots may be guarded by Abs (one node each).
    roots = [node for node in sympy.preorder_traversal(expression) if node.is_Pow and not node.exp.is_integer]
    bound = complexity(expression) + len(roots)
    variance = float(np.var(np.concatenate([y_fit, y_val])))
    for step in path:
        assert step.complexity <= bound, (expression, step.expression)
        assert not _large_rationals(step.expression)
        recomputed = float(np.mean((evaluate(step.expression, SYMBOLS, X_val) - y_val) ** 2) / variance)
        assert recomputed == pytest.approx(step.validation_loss, rel=1e-3, abs=1e-10)


def test_sum_scaled_on_a_negligible_term_is_rescaled_and_the_term_dropped():
    """``1.97e12/(x0**2 + 3.1e11*x0 + 4.8e11)`` (the scale fixed on a negligible square)
    becomes a formula without the square and without constants above 10^4."""
    expression = "1973191344649.0/(x0**2 + 312413346470.5*x0 + 478882155683.75) + x1*exp(-x2)"
    path, _ = _simplify(expression, lambda X: 6.316 / (X[:, 0] + 1.5329) + X[:, 1] * np.exp(-X[:, 2]), 0.5, 2.0)
    best = _best(path)
    assert best.validation_loss <= LOSS_FLOOR
    assert not best.expression.has(x0**2)
    assert all(abs(float(f)) < MAX_RATIONAL for f in best.expression.atoms(sympy.Float))
    assert best.complexity < complexity(sympy.sympify(expression))


def test_rescaling_keeps_the_value():
    expression = sympy.sympify("1973191344649.0/(x0**2 + 312413346470.5*x0 + 478882155683.75)")
    rescaled = rescale_sums(expression)
    assert rescaled != expression
    assert all(abs(float(f)) <= MAX_RATIONAL for f in rescaled.atoms(sympy.Float))
    rows = _rows(0, 0.5, 2.0)
    np.testing.assert_allclose(evaluate(rescaled, SYMBOLS, rows), evaluate(expression, SYMBOLS, rows), rtol=1e-12)
    assert rescale_sums(sympy.sympify("2.5/(x0 + 3.0)")) == sympy.sympify("2.5/(x0 + 3.0)")


def test_nested_fractions_come_over_one_denominator():
    x0, x1 = sympy.symbols("x0 x1")
    X = np.random.default_rng(0).uniform(1, 5, size=(50, 2))
    # A screened change of variables reads back as x0*(1 - 2/(2 + x1/x0)).
    assert normalise_formula(x0 - 2 * x0 / (2 + x1 / x0), [x0, x1], X) == x0 * x1 / (2 * x0 + x1)
    # A plain fraction is left as it is.
    assert normalise_formula(x0 / (x0 + x1), [x0, x1], X) == x0 / (x0 + x1)
