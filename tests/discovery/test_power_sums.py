"""Sums of two powers of one input plus a constant (skkan.discovery._power_sums)."""

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery._power_sums import exponent_pairs, power_sum_formulas
from skkan.symbolic._simplify import evaluate

X0 = sympy.Symbol("x0")


def test_halves_for_a_positive_input_and_no_pole_inside_the_data():
    positive = exponent_pairs(np.linspace(0.1, 5, 50))
    assert (-0.5, 0.5) in positive and (-3, 3) in positive
    # Both signs: integer powers only, and negative ones only away from 0.
    away = exponent_pairs(np.concatenate([np.linspace(-3, -1, 20), np.linspace(1, 3, 20)]))
    assert (-1, 2) in away and not any(e % 1 for pair in away for e in pair)
    across = exponent_pairs(np.linspace(-1, 1, 41))
    assert across and all(e > 0 for pair in across for e in pair)


@pytest.mark.parametrize("random_state", range(3))
@pytest.mark.parametrize(
    ("law", "low", "high"),
    [
        (lambda x: np.sqrt(x) + 1 / np.sqrt(x) + 0.7, 0.2, 5.0),
        (lambda x: x**2 - 2 / x, 0.5, 3.0),
        (lambda x: 3 * x**3 + x, -2.0, 2.0),
    ],
)
def test_the_best_pair_fits_a_sum_of_two_powers_exactly(law, low, high, random_state):
    rng = np.random.default_rng(random_state)
    x_fit, x_val = rng.uniform(low, high, 300), rng.uniform(low, high, 100)
    formulas = power_sum_formulas(x_fit, law(x_fit), x_val, law(x_val), X0)
    error = evaluate(formulas[0], [X0], x_val[:, None]) - law(x_val)
    assert np.sqrt(np.mean(error**2)) <= 1e-9 * np.std(law(x_val))


@pytest.mark.parametrize("random_state", [0])  # exact for random states 0 and 1 (20 s each)
def test_discovery_finds_a_sum_of_two_powers_with_a_constant(random_state):
    # No library function is sqrt(x) + 1/sqrt(x), and the constant defeats every
    # power of x times the target.
    rng = np.random.default_rng(random_state)
    x = rng.uniform(0.2, 5.0, size=(600, 1))
    y = np.sqrt(x[:, 0]) + 1 / np.sqrt(x[:, 0]) + 0.7
    model = KANSymbolicRegressor(random_state=random_state, n_jobs=1).fit(x, y)
    law = sympy.sqrt(X0) + 1 / sympy.sqrt(X0) + sympy.Rational(7, 10)
    assert sympy.simplify(model.get_formula() - law) == 0
