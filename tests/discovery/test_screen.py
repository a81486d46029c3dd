"""The additive-spline screen: it tells additive targets from interacting ones."""

import numpy as np
import pytest

from skkan.discovery._screen import additive_residuals, apply_substitution, substitutions


def test_substitutions_merge_positive_columns_and_subtract_any_two():
    X = np.column_stack([np.linspace(1, 2, 50), np.linspace(-1, 1, 50), np.linspace(2, 3, 50)])
    changes = substitutions(X)
    assert changes[0] == ()
    # Products and ratios of the positive columns 0 and 2; differences of any two
    # columns; the signed column 1 times or over a positive one; differences over the
    # positive column that is not in them; no ratio with a difference (that needs
    # four distinct columns).
    assert set(changes[1:]) == {
        ((0, 2, "*"),), ((0, 2, "/"),), ((2, 0, "*"),), ((2, 0, "/"),),
        ((0, 1, "-"),), ((0, 2, "-"),), ((1, 2, "-"),),
        ((1, 0, "*"),), ((1, 0, "/"),), ((1, 2, "*"),), ((1, 2, "/"),),
        ((0, 1, "-"), (0, 2, "/")), ((1, 2, "-"), (1, 0, "/")),
    }
    merged = apply_substitution(X, ((0, 2, "/"),))
    np.testing.assert_allclose(merged[:, 0], X[:, 0] / X[:, 2])
    np.testing.assert_array_equal(merged[:, 1:], X[:, 1:])
    merged = apply_substitution(X, ((1, 2, "-"),))
    np.testing.assert_allclose(merged[:, 1], X[:, 1] - X[:, 2])
    assert apply_substitution(X, ()) is X


def test_pairs_of_merges_use_four_distinct_columns_within_the_budget():
    X = np.random.default_rng(0).uniform(1, 2, size=(20, 4))
    changes = substitutions(X)
    doubles = [change for change in changes if len(change) == 2]
    standardised = [change for change in doubles if change[1][2] == "/"]
    pairs = [change for change in doubles if change[1][2] == "-"]
    # Each of the 6 differences over either other column; 24 ordered products and
    # ratios, each with the difference of the other two columns; the 3 ways to split
    # four columns into two differences.
    assert len(standardised) == 12 and len(pairs) == 24 + 3 and len(doubles) == 39
    for difference, scale in standardised:
        assert difference[2] == "-" and scale[0] == difference[0] and scale[1] not in difference[:2]
    for first, difference in pairs:
        assert difference[2] == "-"
        assert len({first[0], first[1], difference[0], difference[1]}) == 4
    assert {change for change in pairs if change[0][2] == "-"} == {
        ((0, 1, "-"), (2, 3, "-")), ((0, 2, "-"), (1, 3, "-")), ((0, 3, "-"), (1, 2, "-")),
    }
    merged = apply_substitution(X, ((0, 1, "/"), (2, 3, "-")))
    np.testing.assert_allclose(merged[:, [0, 2]], np.column_stack([X[:, 0] / X[:, 1], X[:, 2] - X[:, 3]]))
    merged = apply_substitution(X, ((1, 2, "-"), (1, 0, "/")))
    np.testing.assert_allclose(merged[:, 1], (X[:, 1] - X[:, 2]) / X[:, 0])
    # Over the budget, the double merges go, the standardised ones last.
    singles = changes[: 1 + 24 + 6]
    assert substitutions(X, max_changes=40) == singles
    assert substitutions(X, max_changes=45) == singles + standardised
    with pytest.raises(ValueError, match="Unknown merge"):
        apply_substitution(X, ((0, 1, "+"),))


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
    assert best == ((1, 0, "/"),)
    assert residuals.min() < 1e-9 < 1e-3 * residuals[0]


@pytest.mark.parametrize("seed", range(3))
def test_law_of_cosines_is_additive_after_a_ratio_and_a_difference(seed):
    # y**2 / (x1*x2) = x1/x2 + x2/x1 - 2*cos(theta1 - theta2): additive in x1/x2 and
    # theta1 - theta2 only, so the pair of merges stands out among all changes.
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(1000, 4))
    y = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2 - 2 * X[:, 0] * X[:, 1] * np.cos(X[:, 2] - X[:, 3]))
    changes = substitutions(X)
    residuals = additive_residuals(X, (y**2 / (X[:, 0] * X[:, 1]))[:, None], changes)[:, 0]
    ranked = [changes[k] for k in np.argsort(residuals)]
    assert set(ranked[:2]) == {((0, 1, "/"), (2, 3, "-")), ((1, 0, "/"), (2, 3, "-"))}
    single = min(residuals[k] for k, change in enumerate(changes) if len(change) < 2)
    assert residuals.min() < 1e-6 < 1e-3 * single


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_with_a_mean_is_additive_in_the_standardised_variable(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(1000, 3))
    sigma, theta, theta1 = X.T
    log_density = -(((theta - theta1) / sigma) ** 2) / 2 - np.log(sigma)
    changes = substitutions(X)
    residuals = additive_residuals(X, log_density[:, None], changes)[:, 0]
    assert changes[int(np.argmin(residuals))] == ((1, 2, "-"), (1, 0, "/"))
    assert residuals.min() < 1e-9 < 1e-3 * min(r for r, change in zip(residuals, changes) if len(change) < 2)


def test_squared_distance_is_additive_in_two_differences():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(1000, 4))
    squared = (X[:, 1] - X[:, 0]) ** 2 + (X[:, 3] - X[:, 2]) ** 2
    changes = substitutions(X)
    residuals = additive_residuals(X, squared[:, None], changes)[:, 0]
    assert changes[int(np.argmin(residuals))] == ((0, 1, "-"), (2, 3, "-"))
    assert residuals.min() < 1e-20


def _split(X, y, n_val=200):
    return X[n_val:], y[n_val:], X[:n_val], y[:n_val]


def _log_ratio_law(seed, n=1200):
    # y / (a/b) is additive in c and d (a log of their ratio); log|y| is not.
    rng = np.random.default_rng(seed)
    X = rng.uniform(1.0, 3.0, (n, 4))
    X[:, 2] = rng.uniform(3.0, 5.0, n)
    return X, X[:, 0] / X[:, 1] * np.log(X[:, 2] / X[:, 3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_screen_bounds_the_noise_of_exact_data_far_below_an_overestimate(seed):
    from skkan.discovery._trials import screen_noise_level

    X, y = _log_ratio_law(seed)
    overestimate = 5e-4 * np.std(y)
    bound = screen_noise_level(*_split(X, y), overestimate)
    assert bound < 1e-6 * np.std(y)
    # An estimate already below half the bound stands.
    assert screen_noise_level(*_split(X, y), 0.5 * bound) == 0.5 * bound


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_screen_bound_of_noisy_data_is_not_below_the_noise(seed):
    from skkan.discovery._trials import screen_noise_level

    X, law = _log_ratio_law(seed)
    noise = 0.01 * np.sqrt(np.mean(law**2))
    y = law + np.random.default_rng(seed + 10).normal(0.0, noise, len(law))
    # A right estimate stands; a tenfold overestimate comes down to about the noise.
    assert screen_noise_level(*_split(X, y), noise) == noise
    bound = screen_noise_level(*_split(X, y), 10 * noise)
    assert 0.8 * noise < bound < 1.5 * noise


def test_scaled_residuals_carry_each_row_by_its_scale():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (300, 2))
    targets = np.column_stack([np.sin(3 * X[:, 0]) * X[:, 1], X[:, 0] * X[:, 1]])
    scales = rng.uniform(0.5, 2.0, targets.shape)
    plain = additive_residuals(X, targets, [()])
    relative, scaled = additive_residuals(X, targets, [()], scales=scales)
    np.testing.assert_array_equal(relative, plain)
    # With unit scales the scaled residual is the relative one times the variance.
    _, unit = additive_residuals(X, targets, [()], scales=np.ones_like(targets))
    np.testing.assert_allclose(unit[0], plain[0] * np.var(targets, axis=0), rtol=1e-10)
    assert np.all(scaled[0] > 0) and not np.allclose(scaled[0], unit[0])
