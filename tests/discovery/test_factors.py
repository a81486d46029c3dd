"""Signed products found through a surrogate network's factors (skkan.discovery._factors).

``r*F*sin(theta)`` with signed ``r`` and ``F`` has no log target and no positive input
to divide out; the factor trial finds its factors on a surrogate network and each
factor's formula on data the network generates, then simplifies the product on the
real rows. Assertions hold for every seed tried (the comments say which).
"""

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery import _factors
from skkan.discovery._factors import SURROGATE_PARAMS, _evaluate, factor_trial, fit_surrogate, held_out_surrogate
from skkan.discovery._trials import TrialSpec

X0, X1, X2 = sympy.symbols("x0 x1 x2")
SETTINGS = {"grid_size": 3, "lamb": 1e-2, "max_iter": 200, "symbolic_iter": 200, "tolerance": 1e-4, "library": None}


def test_a_function_with_no_sum_or_product_gives_no_candidates():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 3))
    y = np.sin(2 * X[:, 0] + X[:, 1] * X[:, 2])
    spec = TrialSpec(3, "factors", (10,), None, 0)
    candidates, n_iter = factor_trial(spec, X[:450], y[:450], X[450:], y[450:], [X0, X1, X2], SETTINGS)
    assert candidates == [] and n_iter > 0
    assert spec.describe().startswith("y = sums and products of factors")


def test_a_sum_with_a_signed_product_term_is_found_through_the_tree():
    # x0 + sin(2*x1)*x2: a sum whose second term is a product (found as a product plus
    # the constant the reference row adds). Exact for seeds 0-3.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1500, 3))
    y = X[:, 0] + np.sin(2 * X[:, 1]) * X[:, 2]
    spec = TrialSpec(3, "factors", (10,), None, 0)
    candidates, _ = factor_trial(spec, X[:1100], y[:1100], X[1100:], y[1100:], [X0, X1, X2], SETTINGS)
    exact = [candidate.expression for candidate in candidates if candidate.loss < 1e-12]
    assert any(sympy.simplify(e - (X0 + sympy.sin(2 * X1) * X2)) == 0 for e in exact)


def _signed_product_rows(random_state, n=2000):
    rng = np.random.default_rng(random_state)
    X = np.column_stack([rng.uniform(-1, 1, size=(n, 2)), rng.uniform(0, 2 * np.pi, size=n)])
    return X, X[:, 0] * X[:, 1] * np.sin(X[:, 2])


@pytest.mark.slow
def test_the_surrogate_trial_finds_a_signed_product_exactly():
    # Exact for random states 0-5 (20-50 s each through the estimator). The product
    # screen now finds this law first; the surrogate's trial remains for factors of
    # more than two inputs, so it is checked on its own.
    X, y = _signed_product_rows(0, n=1500)
    spec = TrialSpec(3, "factors", (10,), None, 0)
    candidates, _ = factor_trial(spec, X[:1100], y[:1100], X[1100:], y[1100:], [X0, X1, X2], SETTINGS)
    exact = [candidate.expression for candidate in candidates if candidate.loss < 1e-12]
    assert X0 * X1 * sympy.sin(X2) in exact


@pytest.mark.parametrize("random_state", range(2))
def test_signed_product_with_a_function_is_found_exactly(random_state):
    # Found exactly for random states 0-5 (0-2 measured with OMP_NUM_THREADS=1 too). Without the factor and product trials the
    # benchmark's I.18.12 (the same law, signed ranges) gave R^2 0.97.
    X, y = _signed_product_rows(random_state)
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    assert model.get_formula() == X0 * X1 * sympy.sin(X2)
    assert "factors" in model.equations_["trial"][model.best_index_]


def test_the_surrogate_of_the_same_data_and_seed_is_trained_once(monkeypatch):
    trained = []

    def fake_fit_surrogate(X, y, seed, validation=None):
        trained.append((X.shape, seed, validation is not None))
        weights = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
        return (lambda rows: rows[:, 0] * 0 + float(weights[-1])), 0.5, 7

    monkeypatch.setattr(_factors, "fit_surrogate", fake_fit_surrogate)
    monkeypatch.setattr(_factors, "_surrogate_cache", type(_factors._surrogate_cache)(_factors.SURROGATE_CACHE_SIZE))
    rng = np.random.default_rng(0)
    X_fit, X_val = rng.uniform(-1, 1, (1100, 3)), rng.uniform(-1, 1, (20, 3))
    y_fit, y_val = X_fit.sum(axis=1), X_val.sum(axis=1)
    first = held_out_surrogate(X_fit, y_fit, X_val, y_val, 3)
    again = held_out_surrogate(X_fit.copy(), y_fit.copy(), X_val, y_val, 3)
    assert len(trained) == 1
    assert again[0] is first[0] and again[1] == first[1] and np.array_equal(again[3], first[3])
    # The trials log the iterations they spent: none on a surrogate trained before.
    assert first[2] == 7 and again[2] == 0
    # Other data or another seed train a new one.
    held_out_surrogate(X_fit, y_fit + 1e-12, X_val, y_val, 3)
    held_out_surrogate(X_fit, y_fit, X_val, y_val, 4)
    assert len(trained) == 3
    # Noisy data train a network that stops early, judged on the training rows it
    # does not train on; with too few of those it trains to the end.
    held_out_surrogate(X_fit, y_fit, X_val, y_val, 3, noisy=True)
    held_out_surrogate(X_fit[:1020], y_fit[:1020], X_val, y_val, 3, noisy=True)
    assert [stops for *_, stops in trained] == [False, False, False, True, False]
    # The cache holds a few surrogates, not every one.
    for seed in range(10, 10 + 2 * _factors.SURROGATE_CACHE_SIZE):
        held_out_surrogate(X_fit, y_fit, X_val, y_val, seed)
    assert len(_factors._surrogate_cache) == _factors.SURROGATE_CACHE_SIZE


@pytest.mark.parametrize("seed", [0, 1])
def test_on_noisy_data_the_surrogate_stops_early_near_the_law(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (1500, 3))
    law = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2])
    noise = 0.1 * np.sqrt(np.mean(law**2))
    y = law + rng.normal(0.0, noise, len(law))
    function, error, n_iter = fit_surrogate(X[:1000], y[:1000], seed, validation=(X[1000:], y[1000:]))
    assert n_iter < SURROGATE_PARAMS["max_iter"] / 3
    # It follows the law, not the noise: its error against the law is well under the
    # noise, and its error on its own rows is about the noise.
    assert np.sqrt(np.mean((_evaluate(function, X) - law) ** 2)) < 0.6 * noise
    assert 0.8 * noise < error < 1.3 * noise
