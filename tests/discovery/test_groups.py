"""Power-product groups ``y = x**p * f(x**q)`` (skkan.discovery._groups).

The laws here are made up for the tests (none is a benchmark law). Assertions hold
for every seed tried (the comments say which); a group is compared up to its
orientation (``u`` or ``1/u`` is the same structure).
"""

from fractions import Fraction

import numpy as np
import pytest

from skkan import KANSymbolicRegressor
from skkan.discovery._groups import _integer_groups, _log_residual, power_group
from skkan.discovery._trials import _monomial_values


def _rows(seed, ranges, n=2000):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(low, high, n) for low, high in ranges])


def _oriented(group):
    """A group as a dict, its first exponent positive."""
    exponents = dict((i, int(e)) for i, e in group)
    if next(iter(exponents.values())) < 0:
        exponents = {i: -e for i, e in exponents.items()}
    return exponents


def _is_function_of(u, values):
    """Whether ``log|values|`` is a smooth function of ``log|u|``: a spline leaves at
    most 1e-4 of its spread (a function of u: 3e-6; y itself: 0.5)."""
    return _log_residual(u[:, None], values) <= 1e-4 * np.std(np.log(np.abs(values)))


# A prefactor times a function of one power product, over five positive inputs.
def _saturating(X):
    a, b, c, d, e = X.T
    return a * np.sqrt(b) * np.log1p(b * c**2 / (d * e))


@pytest.mark.parametrize("seed", range(4))  # seeds 0-7 measured
def test_a_group_and_its_prefactor_are_found_among_positive_inputs(seed):
    X = _rows(seed, [(1, 5), (0.5, 2), (1, 3), (1, 4), (0.5, 5)])
    y = _saturating(X)
    group = power_group(X, y)
    assert group is not None and len(group.groups) == 1  # a plane holding it fits too
    assert _oriented(group.groups[0]) == {1: 1, 2: 2, 3: -1, 4: -1}
    # The prefactor is defined up to powers of the group: y over it is a function of u.
    u = _monomial_values(X, group.groups[0])
    assert _is_function_of(u, y / _monomial_values(X, group.prefactor))
    assert not _is_function_of(u, y)  # the check can fail
    assert all(Fraction(2 * p).denominator == 1 for _, p in group.prefactor)  # halves


@pytest.mark.parametrize("seed", range(3))
def test_laws_without_a_group_have_none(seed):
    X = _rows(seed, [(1, 5), (1, 5), (1, 5), (1, 5)])
    a, b, c, d = X.T
    assert power_group(X, a * b**2 / c) is None  # a monomial: the log trial's
    assert power_group(X, a + b**2 * c + np.sin(d)) is None  # a sum of terms
    # (a + b*c + d is d*(1 + a/d + b*c/d): two groups, found.)
    assert len(power_group(X, a + b * c + d).groups) == 2
    assert power_group(X, a * np.exp(-b / c) + np.sin(d)) is None
    assert power_group(X, np.sin(a) * b - c) is None  # changes sign: no log|y|


@pytest.mark.parametrize("seed", range(3))
def test_two_inputs_have_a_group_when_one_ratio_carries_the_function(seed):
    # u/(c*sqrt(c**2 - u**2)) is 1/u times a function of u/c alone: the sub-problem
    # has one input (a coefficient of the Lorentz transformation of time).
    X = _rows(seed, [(1, 2), (3, 10)])
    u, c = X.T
    group = power_group(X, u / (c * np.sqrt(c**2 - u**2)))
    assert group is not None and _oriented(group.groups[0]) == {0: 1, 1: -1}
    ratio = _monomial_values(X, group.groups[0])
    assert _is_function_of(ratio, u / (c * np.sqrt(c**2 - u**2)) / _monomial_values(X, group.prefactor))
    # A function of both inputs that no ratio carries has none.
    assert power_group(X, np.exp(u) + c) is None
    assert power_group(X, u * c**2) is None  # a monomial: the log trial's


def test_a_group_needs_positive_rows_of_every_sign_pattern():
    X = _rows(0, [(1, 5), (1, 5), (0, 5)])
    X[0, 2] = 0.0  # a zero has no log
    assert power_group(X, np.exp(-X[:, 0] * X[:, 1])) is None


@pytest.mark.parametrize("seed", range(3))  # seeds 0-5 measured
def test_a_signed_input_joins_the_group_through_a_branch_per_sign(seed):
    X = _rows(seed, [(-2, 2), (1, 3), (1, 4), (1, 5)])
    x, b, c, d = X.T
    y = d**2 * np.exp(-x * b / c)
    group = power_group(X, y)
    assert group is not None
    assert _oriented(group.groups[0]) == {0: 1, 1: 1, 2: -1}
    assert dict(group.prefactor) == {3: 2}


@pytest.mark.parametrize("seed", range(3))  # seeds 0-5 measured
def test_the_group_survives_noise(seed):
    X = _rows(seed, [(1, 5), (1, 2), (1, 3), (1, 4), (0.5, 2)])
    y = _saturating(X)
    level = 0.01 * np.sqrt(np.mean(y**2))
    noisy = y + np.random.default_rng(seed + 10).normal(0, level, len(y))
    assert np.all(noisy > 0)  # a log|y| to fit
    group = power_group(X, noisy, noise_level=level)
    assert group is not None
    assert _oriented(group.groups[0]) == {1: 1, 2: 2, 3: -1, 4: -1}


def test_integer_groups_scale_a_direction_to_small_integers():
    direction = np.array([0.5, -0.25, 0.0, 0.7499])
    assert (2, -1, 0, 3) in [tuple(group) for group in _integer_groups(direction)]
    # Sign: more positive than negative entries.
    assert all(sum(v > 0 for v in g) >= sum(v < 0 for v in g) for g in _integer_groups(-direction))


# Random states 0, 1 and 3 measured exact; 2 ends at an approximation (4e-3 on new
# rows: the one-input sub-problem misses tanh(u) on u from 0.06 to 19).
@pytest.mark.parametrize("random_state", [0])  # exact for random states 0 and 1
def test_discovery_solves_a_law_of_five_inputs_through_its_group(random_state):
    X = _rows(random_state, [(1, 5), (1, 5), (1, 5), (1, 5), (1, 5)])
    a, b, c, d, e = X.T

    def law(X):
        a, b, c, d, e = X.T
        return a * b * np.tanh(b * c / (d * e))

    y = law(X)
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    assert any("f(u0)" in trial["trial"] for trial in model.trials_)
    X_new = _rows(random_state + 100, [(1, 5)] * 5, n=500)
    error = model.predict(X_new) - law(X_new)
    assert np.sqrt(np.mean(error**2)) <= 1e-6 * np.std(law(X_new))


def _two_groups(X):
    a, b, c, d, e = X.T
    return a**2 * np.sqrt(1 + b / a + (c * d / (a * e)) ** 2)


@pytest.mark.parametrize("seed", range(3))  # seeds 0-5 measured
def test_two_groups_are_found_where_one_is_not_enough(seed):
    X = _rows(seed, [(1, 3), (1, 5), (0.5, 2), (1, 3), (1, 4)])
    y = _two_groups(X)
    found = power_group(X, y)
    assert found is not None and len(found.groups) == 2
    U = np.column_stack([_monomial_values(X, group) for group in found.groups])
    values = y / _monomial_values(X, found.prefactor)
    assert _log_residual(U, values) <= 1e-4 * np.std(np.log(values))
    # Neither group alone carries y over its prefactor.
    for k in range(2):
        assert _log_residual(U[:, [k]], values) > 1e-2 * np.std(np.log(values))


@pytest.mark.parametrize("random_state", [0])  # 0-2 measured
def test_discovery_solves_a_law_of_five_inputs_through_two_groups(random_state):
    ranges = [(1, 3), (1, 5), (0.5, 2), (1, 3), (1, 4)]
    X = _rows(random_state, ranges)
    model = KANSymbolicRegressor(random_state=random_state).fit(X, _two_groups(X))
    assert any("f(u0, u1)" in trial["trial"] for trial in model.trials_)
    X_new = _rows(random_state + 100, ranges, n=500)
    error = model.predict(X_new) - _two_groups(X_new)
    assert np.sqrt(np.mean(error**2)) <= 1e-6 * np.std(_two_groups(X_new))
