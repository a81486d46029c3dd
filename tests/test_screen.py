"""The additive-spline screen: it tells additive targets from interacting ones."""

import numpy as np
import pytest

from skkan._screen import additive_residuals, apply_substitution, substitutions


def test_substitutions_merge_positive_columns_only():
    X = np.column_stack([np.linspace(1, 2, 50), np.linspace(-1, 1, 50), np.linspace(2, 3, 50)])
    changes = substitutions(X)
    assert changes[0] == ()
    assert set(changes[1:]) == {((0, 2, 1),), ((0, 2, -1),), ((2, 0, 1),), ((2, 0, -1),)}
    merged = apply_substitution(X, ((0, 2, -1),))
    np.testing.assert_allclose(merged[:, 0], X[:, 0] / X[:, 2])
    np.testing.assert_array_equal(merged[:, 1:], X[:, 1:])
    assert apply_substitution(X, ()) is X


@pytest.mark.parametrize("seed", range(3))
def test_additive_targets_fit_and_interactions_do_not(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(1500, 3))
    additive = np.exp(X[:, 0] / 3) + np.sin(X[:, 1])
    product = X[:, 0] * X[:, 1] * np.cos(X[:, 2])
    residuals = additive_residuals(X, np.column_stack([additive, product]), [()])
    assert residuals[0, 0] < 1e-7
    assert residuals[0, 1] > 1e-2


@pytest.mark.parametrize("seed", range(3))
def test_change_of_variables_makes_a_gaussian_in_a_ratio_additive(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(1500, 2))
    sigma, theta = X[:, 0], X[:, 1]
    log_density = -((theta / sigma) ** 2) / 2 - np.log(sigma)
    changes = substitutions(X)
    residuals = additive_residuals(X, log_density[:, None], changes)[:, 0]
    best = changes[int(np.argmin(residuals))]
    # theta -> theta / sigma leaves -z**2/2 - log(sigma): additive.
    assert best == ((1, 0, -1),)
    assert residuals.min() < 1e-9 < 1e-3 * residuals[0]
