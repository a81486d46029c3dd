"""The noise floor, the tests on held-out errors, and noise-aware selection.

Properties asserted over several seeds, never one seed's printed string: the noise
estimate is close to the truth at 1 % and 10 % noise and tiny without noise, the
paired test and the floor test behave as tests, the selection keeps exact formulas
on exact data and takes the simplest formula that the noise cannot tell apart.
"""

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery import _noise
from skkan.discovery._noise import estimate_noise, indistinguishable, noise_rows, quotient_noise_level, within_noise
from skkan.discovery._trials import noise_columns, select_best
from skkan.symbolic._simplify import evaluate

X0, X1, X2 = sympy.symbols("x0 x1 x2")

LAWS = {
    1: lambda X: np.exp(-X[:, 0] ** 2 / 2),
    3: lambda X: X[:, 0] * X[:, 1] / X[:, 2] ** 2,
    5: lambda X: X[:, 0] * np.sin(X[:, 1]) + X[:, 2] * X[:, 3] / X[:, 4],
}


def _noisy(n_inputs, level, seed, n=1500):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(n, n_inputs))
    y = LAWS[n_inputs](X)
    sigma = level * np.sqrt(np.mean(y**2))  # SRBench's noise
    return X, y + rng.normal(0, sigma, n), sigma, np.std(y)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_inputs", sorted(LAWS))
def test_noise_estimate_is_close_to_the_truth_and_tiny_without_noise(n_inputs, seed):
    for level in (0.01, 0.1):
        X, y, sigma, _ = _noisy(n_inputs, level, seed)
        assert abs(estimate_noise(X, y, random_state=seed) / sigma - 1) < 0.25
    X, y, _, spread = _noisy(n_inputs, 0.0, seed)
    assert estimate_noise(X, y, random_state=seed) < 2e-3 * spread


@pytest.mark.parametrize("seed", range(3))
def test_likelihood_and_gradient_are_scikit_learns(seed):
    # The process is computed here for speed; it must be scikit-learn's
    # ConstantKernel * RBF + WhiteKernel with GaussianProcessRegressor's jitter.
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    theta = rng.uniform(-1.5, 1.5, size=5)
    kernel = ConstantKernel() * RBF(np.ones(3)) + WhiteKernel()
    process = GaussianProcessRegressor(kernel, alpha=_noise._JITTER, optimizer=None).fit(X, y)
    expected, expected_gradient = process.log_marginal_likelihood(theta, eval_gradient=True)
    value, gradient = _noise._negative_log_likelihood(theta, X, y)
    assert value == pytest.approx(-expected, rel=1e-9)
    np.testing.assert_allclose(gradient, -expected_gradient, rtol=1e-7, atol=1e-9)
    # The noise alone, with the smooth part fixed.
    smooth = np.exp(theta[0]) * _noise._rbf(X / np.exp(theta[1:4]))
    value, gradient = _noise._negative_log_likelihood_of_noise(theta[4:], smooth, y)
    assert value == pytest.approx(-expected, rel=1e-9)
    assert gradient[0] == pytest.approx(-expected_gradient[4], rel=1e-7, abs=1e-9)


def test_noisy_data_average_disjoint_estimates_and_noiseless_data_fit_one(monkeypatch):
    fitted = []
    original = _noise._white_noise_variance

    def recording(X, y, smooth=None):
        fitted.append((X.copy(), smooth))
        return original(X, y, smooth)

    monkeypatch.setattr(_noise, "_white_noise_variance", recording)
    X, y, sigma, _ = _noisy(3, 0.1, 0)
    level = estimate_noise(X, y, random_state=0)
    assert len(fitted) == _noise.NOISE_SUBSETS
    rows = np.concatenate([part for part, _ in fitted])
    assert len(rows) == noise_rows(len(y)) == _noise.NOISE_ROWS * _noise.NOISE_SUBSETS
    assert len(np.unique(rows, axis=0)) == len(rows)  # disjoint sets of rows
    # The first process fits its smooth part; the others keep it and fit the noise.
    first, smooth = original(fitted[0][0], y[np.isin(X[:, 0], fitted[0][0][:, 0])])
    assert fitted[0][1] is None and all(kernel is not None for _, kernel in fitted[1:])
    variances = [first] + [original(part, y[np.isin(X[:, 0], part[:, 0])], smooth)[0] for part, _ in fitted[1:]]
    assert level == pytest.approx(np.sqrt(np.mean(variances)), rel=1e-6)
    # Noiseless data: one process, and the same estimate as that process alone.
    fitted.clear()
    X, y, _, _ = _noisy(3, 0.0, 0)
    assert estimate_noise(X, y, random_state=0) == estimate_noise(X, y, random_state=0, subsets=1)
    assert len(fitted) == 2
    # Fewer rows than one set: all of them, once.
    fitted.clear()
    X, y, _, _ = _noisy(1, 0.1, 0, n=200)
    estimate_noise(X, y)
    assert len(fitted) == 1 and len(fitted[0][0]) == 200 == noise_rows(200)


@pytest.mark.parametrize("seed", range(4))
def test_averaged_noise_estimate_is_close_to_the_truth(seed):
    # One process's variance errs by about sqrt(2 / 300) = 8 % (one case in twenty by
    # 11 % or more); the average of three by about 5 %, so 15 % is far in its tail.
    for level in (0.01, 0.1):
        X, y, sigma, _ = _noisy(3, level, seed)
        assert abs(estimate_noise(X, y, random_state=seed) ** 2 / sigma**2 - 1) < 0.15


def test_quotient_noise_level_is_the_root_mean_square_of_the_level_over_the_divisor():
    rng = np.random.default_rng(0)
    divisor = rng.uniform(-3.0, 3.0, 5000)
    divisor = divisor[np.abs(divisor) > 0.5]
    noise = rng.normal(0.0, 0.2, divisor.size)
    # The simulated noise of y / divisor has the level's root mean square.
    assert quotient_noise_level(0.2, divisor) == pytest.approx(np.sqrt(np.mean((noise / divisor) ** 2)), rel=0.05)
    assert quotient_noise_level(0.2, np.full(10, -4.0)) == pytest.approx(0.05)
    assert quotient_noise_level(None, divisor) is None


def test_noise_estimate_of_a_constant_target_is_zero():
    assert estimate_noise(np.arange(10.0)[:, None], np.ones(10)) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_floor_and_paired_tests_accept_the_truth_and_reject_a_clear_bias(seed):
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, 500)
    truth = noise**2
    biased = (noise + 0.3) ** 2  # 9 % more error: the paired test sees it
    assert within_noise(truth, 1.0)
    assert not within_noise((noise + 0.7) ** 2, 1.0)  # 49 % more than the floor
    assert indistinguishable(truth, truth + 0.0)
    assert not indistinguishable(biased, truth)
    # Some bias the noise hides: a 0.02 shift is a 0.04 % change of the error.
    assert indistinguishable((noise + 0.02) ** 2, truth)


def _rows(expressions):
    return [{"complexity": k + 1, "loss": 1.0 / (k + 1), "score": 0.0, "equation": e, "trial": ""}
            for k, e in enumerate(expressions)]


@pytest.mark.parametrize("seed", range(3))
def test_selection_takes_the_simplest_formula_the_noise_cannot_tell_apart(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(500, 2))
    law = 3 * X[:, 0] + X[:, 1] ** 2
    symbols = [X0, X1]
    # The law, the law with a tiny spurious term, and a clearly worse line.
    expressions = [3 * X0 + 5 * X1 - 4, 3 * X0 + X1**2, 3 * X0 + X1**2 + sympy.Float(0.01) * sympy.sin(X0)]
    rows = _rows(expressions)
    y = law + rng.normal(0, 0.5, len(law))
    errors, flags, level = noise_columns(rows, X, y, symbols, 0.5)
    assert flags == [False, True, True]
    assert abs(level / 0.5 - 1) < 0.15
    assert select_best(rows, "best", errors=errors) == 1
    # Without noise, only an exact formula is as good as an exact one.
    errors, flags, level = noise_columns(rows[:2], X, law, symbols, 1e-9)
    assert level == 0 and flags == [False, True]
    assert select_best(rows[:2], "best", errors=errors) == 1


def test_on_exact_data_an_approximation_with_a_few_large_errors_is_not_taken():
    # The approximation's squared errors vanish but for a few rows at the steep end: a
    # paired test alone passes it (mean difference within two standard errors), but
    # the exact law is at the floor. Its complexity here is made the lower one.
    X = np.linspace(0.0, 0.99, 400)[:, None]
    law = 1 / np.sqrt(1 - X[:, 0] ** 2)
    approximation = (1 + sympy.Float(1e-3) * X0**100) / sympy.sqrt(1 - X0**2)
    rows = [
        {"complexity": 5, "loss": float(np.mean((evaluate(approximation, [X0], X) - law) ** 2) / np.var(law)),
         "score": 0.0, "equation": approximation, "trial": ""},
        {"complexity": 8, "loss": 1e-12, "score": 0.0, "equation": 1 / sympy.sqrt(1 - X0**2), "trial": ""},
    ]
    errors, _, _ = noise_columns(rows, X, law, [X0], 0.0)
    assert indistinguishable(errors[0], errors[1])
    assert select_best(rows, "best", errors=errors) == 1


@pytest.mark.parametrize("random_state", range(2))
def test_noisy_law_is_within_noise_with_its_noise_level(random_state):
    X = np.random.default_rng(random_state).uniform(1, 5, size=(1000, 3))
    y_clean = 3.2 * X[:, 0] * X[:, 1] / X[:, 2] ** 2
    sigma = 0.01 * np.sqrt(np.mean(y_clean**2))
    y = y_clean + np.random.default_rng(random_state + 10).normal(0, sigma, len(y_clean))
    model = KANSymbolicRegressor(random_state=random_state, n_jobs=2).fit(X, y)
    assert abs(model.noise_level_ / sigma - 1) < 0.25
    table = model.equations_
    assert table["within_noise"].dtype == bool
    assert table["within_noise"][model.best_index_]
    # The chosen formula is the law up to its constant: x0*x1/x2**2 times a number near 3.2.
    ratio = sympy.simplify(model.get_formula(precision=None) / (X0 * X1 / X2**2))
    assert ratio.is_number and abs(float(ratio) - 3.2) < 0.02
    # Discovery stopped at the noise floor: the hidden-layer stages did not run.
    assert all("KAN[]" in trial["trial"] for trial in model.trials_)


@pytest.mark.parametrize("random_state", range(3))
def test_a_noisy_signed_product_ends_discovery_at_the_first_stage(random_state):
    # Found by the product screen in a second; with a noise floor estimated too low
    # (one process on 300 rows is low by 11 % or more one time in twenty) the same
    # search on a law of the benchmark ran every stage, for 30 s.
    rng = np.random.default_rng([random_state, 7])
    X = rng.uniform(-1, 1, size=(2000, 2))
    y_clean = X[:, 0] * X[:, 1]
    y = y_clean + rng.normal(0, 0.1 * np.sqrt(np.mean(y_clean**2)), len(y_clean))
    model = KANSymbolicRegressor(random_state=random_state, n_jobs=1).fit(X, y)
    assert all(trial["trial"].startswith(("y ~ KAN[]", "y = f(x0) * f(x1)")) for trial in model.trials_)
    ratio = sympy.simplify(model.get_formula(precision=None) / (X0 * X1))
    assert ratio.is_number and abs(float(ratio) - 1) < 0.05


def test_on_noisy_data_exact_constants_win_ties_of_their_complexity():
    from skkan.discovery._trials import Candidate, TrialSpec, pareto_table

    spec = TrialSpec(1, "identity", (), None, 0)
    fitted = Candidate(sympy.Float(3.2014) * X0, 3, 0.0100, 0.0100, spec)
    exact = Candidate(sympy.Rational(16, 5) * X0, 3, 0.0101, 0.0101, spec)
    worse = Candidate(sympy.Rational(3, 1) * X0, 3, 0.0200, 0.0200, spec)
    assert pareto_table([fitted, exact, worse])[0]["equation"] == fitted.expression
    assert pareto_table([fitted, exact, worse], tie=0.1)[0]["equation"] == exact.expression
    assert pareto_table([fitted, worse], tie=0.1)[0]["equation"] == fitted.expression


# Random states 0, 1 and 2 measured exact (18-44 s); before the screen's bound all
# three ended at an approximation within the overestimated noise.
@pytest.mark.parametrize("random_state", [0])
def test_an_approximation_within_an_overestimated_noise_of_exact_data_does_not_end_discovery(random_state):
    rng = np.random.default_rng(100 + random_state)
    ranges = [(1, 3), (1, 3), (1, 3), (3, 5), (1, 2)]

    def rows(n):
        return np.column_stack([rng.uniform(low, high, n) for low, high in ranges])

    def law(X):
        a, b, c, d, e = X.T
        return a * np.log(d / e) / (b * c)

    X = rows(2000)
    model = KANSymbolicRegressor(random_state=random_state).fit(X, law(X))
    # The Gaussian process puts the noise of these exact rows near 5e-4 of y's spread
    # (log|y| under d/e fits within that); the screen's bound is far below it.
    assert model.noise_level_ < 1e-6 * np.std(law(X))
    X_new = rows(500)
    error = model.predict(X_new) - law(X_new)
    assert np.sqrt(np.mean(error**2)) <= 1e-6 * np.std(law(X_new))
