"""Products of spline factors fitted by alternating least squares (skkan.discovery._products).

A product of functions of disjoint groups of inputs is found whatever the signs of
the inputs and of ``y``; sums and coupled inputs are not taken for products.
Assertions hold for every seed tried (the comments say which).
"""

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery._products import PRODUCT_RESIDUAL, fit_product, product_structure

N_FIT = 800


def _rows(seed, ranges, n=1200):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(low, high, n) for low, high in ranges])


@pytest.mark.parametrize("seed", range(3))  # seeds 0-7 measured
def test_signed_factors_that_average_to_zero_are_found(seed):
    # Three of four factors average to zero: a start from constant curves sees nothing.
    X = _rows(seed, [(-1, 1), (-1, 1), (-1, 1), (0, 2 * np.pi)])
    y = X[:, 0] * X[:, 1] * X[:, 2] * np.sin(X[:, 3])
    fit = product_structure(X, y, N_FIT)
    assert fit is not None and fit.groups == ((0,), (1,), (2,), (3,))
    assert fit.residual < 1e-7
    predicted = fit.scale * np.prod(fit.factors, axis=0)
    np.testing.assert_allclose(predicted, y, atol=1e-3 * np.std(y))


@pytest.mark.parametrize("seed", range(3))
def test_squares_and_steep_powers_are_found(seed):
    X = _rows(seed, [(-1, 1), (-1, 1), (1, 5), (1, 5)])
    y = X[:, 0] ** 2 * X[:, 1] ** 2 / (X[:, 2] * X[:, 3] ** 3)
    fit = product_structure(X, y, N_FIT)
    assert fit is not None and fit.groups == ((0,), (1,), (2,), (3,))


@pytest.mark.parametrize("seed", range(3))
def test_coupled_inputs_become_one_factor(seed):
    # v/sqrt(1 - v**2/c**2) couples v and c: their product with m is two factors.
    X = _rows(seed, [(1, 5), (-1, 1), (1.2, 3)])
    y = X[:, 0] * X[:, 1] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    fit = product_structure(X, y, N_FIT)
    assert fit is not None and fit.groups == ((0,), (1, 2))
    # A noise floor far above the unmerged fit's relative residual (2e-3 to 3e-3) is
    # an overestimate on exact rows (estimates err upwards with many inputs): the
    # merge is still searched for and found.
    fit = product_structure(X, y, N_FIT, noise_variance=0.05 * np.var(y))
    assert fit is not None and fit.groups == ((0,), (1, 2))


@pytest.mark.parametrize("seed", range(3))  # seeds 0-7 measured
def test_a_product_plus_a_constant_is_found_with_its_constant(seed):
    X = _rows(seed, [(-1, 1), (-1, 1), (0, 2 * np.pi)])
    y = 1.5 + X[:, 0] * X[:, 1] * np.cos(X[:, 2])
    fit = product_structure(X, y, N_FIT)
    assert fit is not None and fit.groups == ((0,), (1,), (2,))
    assert fit.residual < 1e-7
    assert abs(fit.offset - 1.5) < 1e-3
    predicted = fit.offset + fit.scale * np.prod(fit.factors, axis=0)
    np.testing.assert_allclose(predicted, y, atol=1e-3 * np.std(y))


def test_a_pure_product_needs_no_constant():
    X = _rows(4, [(-1, 1), (-1, 1), (0, 2 * np.pi)])
    fit = product_structure(X, 1.5 * X[:, 0] * X[:, 1] * np.cos(X[:, 2]), N_FIT)
    assert fit is not None and fit.offset == 0.0


@pytest.mark.parametrize(
    "law",
    [
        lambda X: X[:, 0] + X[:, 1],
        lambda X: X[:, 0] * X[:, 1] + X[:, 2],
        lambda X: (X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1] / X[:, 2] ** 2),
        lambda X: np.sin(X[:, 0] - X[:, 1]) * X[:, 2],
    ],
)
def test_sums_and_coupled_inputs_are_no_product(law):
    X = _rows(0, [(-1, 1), (-1, 1), (1, 3)])
    y = law(X)
    fit = product_structure(X, y, N_FIT)
    if fit is not None:
        # Only the last law is a product (of sin(x0 - x1) and x2), and then as two factors.
        assert fit.groups == ((0, 1), (2,))


def test_noise_within_the_given_floor_is_accepted():
    X = _rows(1, [(-1, 1), (-1, 1), (0.5, 2)])
    clean = X[:, 0] * np.cos(2 * X[:, 1]) / X[:, 2]
    sigma = 0.01 * np.sqrt(np.mean(clean**2))
    y = clean + np.random.default_rng(1).normal(0, sigma, len(clean))
    assert product_structure(X, y, N_FIT) is None  # noise far above PRODUCT_RESIDUAL
    fit = product_structure(X, y, N_FIT, noise_variance=sigma**2)
    assert fit is not None and fit.groups == ((0,), (1,), (2,))
    assert fit.residual > PRODUCT_RESIDUAL


@pytest.mark.parametrize("seed", range(2))  # seeds 0-5 measured
def test_no_merge_or_constant_is_searched_once_a_product_is_at_the_noise(seed, monkeypatch):
    # At 10 % noise a merge cannot lower the held-out residual tenfold, nor can a
    # constant: the one fit of single-input factors is the answer, found with one call.
    from skkan.discovery import _products

    X = _rows(seed, [(-1, 1), (-1, 1), (0.5, 2), (-1, 1)])
    clean = X[:, 0] * np.cos(2 * X[:, 1]) / X[:, 2] * np.exp(X[:, 3])
    sigma = 0.1 * np.sqrt(np.mean(clean**2))
    y = clean + np.random.default_rng(seed).normal(0, sigma, len(clean))
    calls = []
    original = _products.fit_product
    monkeypatch.setattr(_products, "fit_product", lambda *args, **kwargs: calls.append(args[2]) or original(*args, **kwargs))
    fit = product_structure(X, y, N_FIT, noise_variance=sigma**2)
    assert fit is not None and fit.groups == ((0,), (1,), (2,), (3,)) and fit.offset == 0.0
    assert len(calls) == 1
    # Without the noise floor the same rows are no product, after every merge was tried.
    calls.clear()
    assert product_structure(X, y, N_FIT) is None
    assert len(calls) > 2


def test_an_ignored_input_is_a_constant_factor():
    X = _rows(2, [(-1, 1), (-1, 1), (-1, 1)])
    y = X[:, 0] * np.exp(X[:, 1])
    fit = fit_product(X, y, [(0,), (1,), (2,)], N_FIT)
    assert fit.residual < 1e-8
    assert fit.n_varying == 2
    assert np.std(fit.factors[2]) < 1e-6


@pytest.mark.parametrize("random_state", [1])  # 0-3 measured, 5-7 s each
def test_discovery_finds_a_product_of_four_signed_factors(random_state):
    # Before the product trial, m*r*v*sin(theta) on signed ranges gave "0" (R^2 0).
    rng = np.random.default_rng(random_state)
    X = np.column_stack([rng.uniform(-1, 1, size=(1500, 3)), rng.uniform(0, 2 * np.pi, size=1500)])
    y = X[:, 0] * X[:, 1] * X[:, 2] * np.sin(X[:, 3])
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    x0, x1, x2, x3 = sympy.symbols("x0 x1 x2 x3")
    assert model.get_formula() == x0 * x1 * x2 * sympy.sin(x3)
    assert "factors fitted as splines" in model.equations_["trial"][model.best_index_]


@pytest.mark.parametrize("random_state", [0])  # 0-3 measured, 2-4 s each
def test_discovery_finds_a_signed_product_plus_a_constant(random_state):
    # Before the constant, 2 - x0*x2*exp(x1) gave a sum of four trigonometric terms.
    rng = np.random.default_rng(random_state)
    X = np.column_stack([rng.uniform(-1, 1, size=(1500, 2)), rng.uniform(-3, 3, size=1500)])
    y = 2 - X[:, 0] * np.exp(X[:, 1]) * X[:, 2]
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    x0, x1, x2 = sympy.symbols("x0 x1 x2")
    assert sympy.simplify(model.get_formula() - (2 - x0 * x2 * sympy.exp(x1))) == 0
    assert "y = a + f(x0)" in model.equations_["trial"][model.best_index_]
