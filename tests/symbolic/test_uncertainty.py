"""Standard errors of fitted constants, and snapping only inside their confidence interval.

Properties over several seeds: the standard errors of a linear fit are the textbook
ones, a snapped constant of a noisy law lies within its interval of the fitted value,
the exponent of a noisy power law snaps to the integer inside its interval, and an
exact law on exact data keeps its exact constants; a noisy constant whose interval
holds many equally simple numbers is not snapped to one of them.
"""

import numpy as np
import pytest
import sympy

from skkan.symbolic._simplify import (
    _SIMPLEST_BASE_NICENESS,
    SNAP_STANDARD_ERRORS,
    _base_numbers,
    _nice_values,
    _niceness,
    _Parametrised,
    plausible_snap,
    simple_numbers_near,
    simplify_formula,
    standard_errors,
)

X0, X1, X2 = sympy.symbols("x0 x1 x2")


@pytest.mark.parametrize("seed", range(3))
def test_standard_errors_of_a_line_are_the_textbook_ones(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, 300)
    y = 1.5 * x + 0.7 + rng.normal(0, 0.2, len(x))
    design = np.column_stack([x, np.ones_like(x)])
    coefficients, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
    sigma2 = residual[0] / (len(x) - 2)
    expected = np.sqrt(np.diag(np.linalg.inv(design.T @ design)) * sigma2)
    model = _Parametrised(sympy.Float(coefficients[0]) * X0 + sympy.Float(coefficients[1]), [X0])
    errors = dict(zip(model.values, standard_errors(model, x[:, None], y, scale=float(np.std(y)))))
    errors = np.array([errors[coefficients[0]], errors[coefficients[1]]])
    np.testing.assert_allclose(errors, expected, rtol=1e-4)


def _law_data(seed, level, n=1500):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 3))
    y = 3.2 * X[:, 0] * X[:, 1] / X[:, 2] ** 2
    return X, y + rng.normal(0, level * np.sqrt(np.mean(y**2)), n)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("level", [0.01, 0.1])
def test_noisy_constants_snap_only_inside_their_interval(seed, level):
    X, y = _law_data(seed, level)
    start = sympy.Float(3.1) * X0 * X1 / X2 ** sympy.Float(2.01)
    path = simplify_formula(start, [X0, X1, X2], X[:1000], y[:1000], X[1000:], y[1000:], random_state=seed)
    # The step where the structure is the law with both constants free.
    free = [s for s in path if len(s.expression.atoms(sympy.Float)) == 2]
    assert free
    errors = dict(free[-1].uncertainties)
    assert len(errors) == 2 and all(0 < e < np.inf for e in errors.values())
    final = path[-1].expression
    exponent = -final.as_powers_dict()[X2]
    assert exponent == 2  # 2 is inside the exponent's interval at these noise levels
    ratio = sympy.simplify(final / (X0 * X1 / X2**2))
    assert ratio.is_number
    # Whatever the constant became, it is inside its interval of the fitted value...
    (fitted,) = [float(f) for f in free[-1].expression.atoms(sympy.Float) if abs(abs(float(f)) - 2) > 0.5]
    error = [e for f, e in errors.items() if abs(abs(float(f)) - 2) > 0.5][0]
    assert abs(float(ratio) - fitted) <= SNAP_STANDARD_ERRORS * error + 1e-12
    # ...and the truth is inside its interval too (3 standard errors of a correct fit).
    assert abs(float(ratio) - 3.2) <= 3 * SNAP_STANDARD_ERRORS * error
    # A snapped value is rational, never a "nice" multiple of pi or sqrt(2) by accident.
    assert ratio.is_Rational or ratio.is_Float


@pytest.mark.parametrize("seed", range(2))
def test_exact_law_keeps_exact_constants(seed):
    X, y = _law_data(seed, 0.0)
    start = sympy.Float(3.2000001) * X0 * X1 / X2 ** sympy.Float(2.0000001)
    path = simplify_formula(start, [X0, X1, X2], X[:1000], y[:1000], X[1000:], y[1000:], random_state=seed)
    assert path[-1].expression == sympy.Rational(16, 5) * X0 * X1 / X2**2
    assert path[-1].validation_loss < 1e-20


def test_a_simple_number_is_plausible_only_where_few_as_simple_lie_near():
    # 2 for 1.99 +- 0.02: the only integer within five interval half-widths.
    assert simple_numbers_near(sympy.Integer(2), 1.99, 0.02) == 1
    assert plausible_snap(sympy.Integer(2), 1.99, 0.02)
    # 1/6 for 0.17 +- 0.015: 1/5, 1/6, 1/(2*pi), 1/(3*sqrt(pi)) ... lie as near.
    assert simple_numbers_near(sympy.Rational(1, 6), 0.17, 0.015) > 2
    assert not plausible_snap(sympy.Rational(1, 6), 0.17, 0.015)
    assert not plausible_snap(sympy.pi, 3.15, 0.02)
    # A precise constant keeps its simple value, a rational and a multiple of pi alike.
    assert plausible_snap(sympy.Rational(16, 5), 3.2000004, 1e-6)
    assert plausible_snap(1 / (4 * sympy.pi), 0.0795775, 1e-6)
    # Outside the interval: never.
    assert not plausible_snap(sympy.Integer(2), 1.9, 0.02)
    # An interval too wide to count is no evidence for any number.
    assert not plausible_snap(sympy.Integer(2), 2.5, 1e3)


def test_counting_skips_the_multiples_of_pi_only_where_none_could_count():
    # simple_numbers_near builds the table of multiples of pi and roots only for a
    # candidate at least as complex as the simplest of them.
    values, niceness = _base_numbers()
    assert niceness.min() == _SIMPLEST_BASE_NICENESS
    assert _niceness(sympy.pi) == _SIMPLEST_BASE_NICENESS
    # The cached numbers are sympy's, rationals before multiples of pi or roots.
    near = _nice_values(3 * np.pi / 4)
    assert 3 * sympy.pi / 4 in near and near.index(sympy.Rational(7, 3)) < near.index(3 * sympy.pi / 4)
    assert _nice_values(0.5)[0] == sympy.Rational(1, 2)
    assert sympy.sqrt(2) / 2 in _nice_values(np.sqrt(0.5))


@pytest.mark.parametrize("seed", range(4))
def test_a_noisy_intercept_is_printed_as_measured_not_as_a_nice_number(seed):
    # y = 2 x + 1/6 under noise of std 0.3: the slope's interval holds one integer, the
    # intercept's (about +- 0.05) holds 1/6, 1/5, 1/(2*pi), sqrt(2)/8 ...
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(400, 1))
    y = 2 * X[:, 0] + 1 / 6 + rng.normal(0, 0.3, len(X))
    start = sympy.Float(1.9) * X0 + sympy.Float(0.2)
    final = simplify_formula(start, [X0], X[:300], y[:300], X[300:], y[300:], random_state=seed)[-1].expression
    slope, intercept = final.coeff(X0), final.subs(X0, 0)
    assert slope == 2
    assert intercept.is_Float and abs(float(intercept) - 1 / 6) < 0.1


@pytest.mark.parametrize("option", [sympy.Integer(1), sympy.Rational(16, 5), sympy.Rational(-7, 12), sympy.Integer(1234)])
def test_counted_rationals_are_those_sympy_prints_as_simple(option):
    # The rationals of the window, counted one by one through sympy: in lowest terms,
    # at most as long printed as the candidate, each once (2/4 is 1/2).
    from skkan.symbolic._simplify import _COINCIDENCE_WINDOW, _DENOMINATORS, MAX_RATIONAL

    rng = np.random.default_rng(0)
    for value, error in zip(float(option) + rng.normal(0, 0.5, 20), 10 ** rng.uniform(-4, 0.5, 20)):
        half_width = _COINCIDENCE_WINDOW * SNAP_STANDARD_ERRORS * error
        low, high = value - half_width, value + half_width
        found = {
            sympy.Rational(n, d)
            for d in _DENOMINATORS
            for n in range(int(np.ceil(low * d)), int(np.floor(high * d)) + 1)
            if n != 0 and abs(sympy.Rational(n, d).p) <= MAX_RATIONAL
        }
        simple = [r for r in found if _niceness(r) <= _niceness(option)]
        assert simple_numbers_near(option, value, error) == len(simple)
