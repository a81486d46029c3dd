"""The discovery workflow's pieces: monomial prefactors, the Pareto table, the choice."""

import math

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery._screen import apply_substitution
from skkan.discovery._trials import (
    POWERS,
    Candidate,
    TrialSpec,
    _power_root,
    monomial_prefactor,
    network_target,
    pareto_table,
    plan_trials,
    read_back,
    screened_trials,
    select_best,
)
from skkan.symbolic._simplify import LOSS_FLOOR, complexity, evaluate, expand_exactly

X0, X1, X2 = sympy.symbols("x0 x1 x2")
SPEC = TrialSpec(1, "identity", (), None, 0)


def _candidate(expression, loss):
    from skkan.symbolic._simplify import complexity

    return Candidate(expression, complexity(expression), loss, loss, SPEC)


@pytest.mark.parametrize("seed", range(4))
def test_monomial_prefactor_finds_the_powers_of_positive_factors(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(1500, 3))
    y = -X[:, 0] * X[:, 1] ** 2 * np.cos(X[:, 2])
    # theta is positive too, but enters through cos: curvature in log(theta) excludes it.
    assert monomial_prefactor(X, y) == ((0, 1.0), (1, 2.0))
    assert monomial_prefactor(X, np.cos(X[:, 2])) == ()


def test_signed_monomial_law_is_found_exactly():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(1000, 3))
    y = -X[:, 0] * X[:, 1] * np.cos(X[:, 2])
    model = KANSymbolicRegressor(random_state=0).fit(X, y)
    assert model.get_formula() == -X0 * X1 * sympy.cos(X2)
    assert model.trials_[0]["trial"].startswith("y/(x0^1*x1^1)")


def test_plan_has_cheap_stages_first_and_log_only_for_one_signed_targets():
    stages = plan_trials(3, 1, n_restarts=2, hidden_width="auto", transforms="auto", random_state=0)
    assert [len(stage) for stage in stages] == [2, 3, 5, 2, 2]
    assert all(spec.hidden == () for spec in stages[0] + stages[1])
    assert {spec.transform for spec in stages[0]} == {"log", "identity"}
    assert all(spec.hidden == (5,) for stage in stages[2:] for spec in stage)
    # One stage per restart: a law found by the first seed skips the second.
    assert len({spec.seed for spec in stages[2]}) == 1 and stages[2][0].seed != stages[3][0].seed
    signed = plan_trials(3, 0, n_restarts=1, hidden_width=2, transforms="auto", random_state=0)
    assert {spec.transform for stage in signed for spec in stage} == {"identity"}
    assert plan_trials(3, 1, n_restarts=1, hidden_width=2, transforms="none", random_state=0)[0][0].transform == "identity"


def test_powers_of_the_target_are_planned_only_when_it_keeps_one_sign():
    monomial = ((0, 1.0),)
    stages = plan_trials(3, -1, n_restarts=1, hidden_width="auto", transforms="auto", random_state=0, monomial=monomial)
    additive_powers = {(spec.transform, spec.power) for spec in stages[1]}
    assert additive_powers == {(base, p) for base in ("identity", "monomial") for p in POWERS}
    assert all(spec.monomial == monomial for spec in stages[1] if spec.transform == "monomial")
    assert additive_powers <= {(spec.transform, spec.power) for spec in stages[2]}
    assert (("identity", 2)) in {(spec.transform, spec.power) for spec in stages[-1]}
    assert stages[1][0].describe().startswith("y^2 ~ KAN[]")
    assert stages[1][-1].describe().startswith("(y/(x0^1))^-2 ~ KAN[]")
    for sign, transforms in ((0, "auto"), (1, "none")):
        plan = plan_trials(3, sign, n_restarts=1, hidden_width=2, transforms=transforms, random_state=0, monomial=monomial)
        assert all(spec.power == 1 for stage in plan for spec in stage)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("power", POWERS)
def test_power_root_undoes_the_power_of_a_one_signed_target(sign, power):
    t = sympy.Symbol("t")
    y = sign * np.random.default_rng(0).uniform(0.5, 3, size=50)
    target = (sign * y) ** float(power)
    root = sympy.lambdify([t], _power_root(t, power, sign))(target)
    np.testing.assert_allclose(root, y, rtol=1e-12)


@pytest.mark.parametrize("random_state", range(2))
def test_reciprocal_of_a_sum_of_reciprocals_is_found_exactly(random_state):
    # 1/y = 1/x0 + 2/x1 is additive, and y/x1 a function of x0/x1 alone: an additive
    # model finds it (the stage of additive powers, or the screen's change of
    # variables, whichever comes first), printed over one denominator.
    rng = np.random.default_rng(random_state)
    X = rng.uniform(1, 5, size=(600, 2))
    y = 1 / (1 / X[:, 0] + 2 / X[:, 1])
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    formula = model.get_formula()
    assert sympy.simplify(formula - 1 / (1 / X0 + 2 / X1)) == 0, formula
    assert complexity(formula) <= complexity(X0 * X1 / (2 * X0 + X1)), formula
    assert "KAN[]" in model.equations_["trial"][model.best_index_]


@pytest.mark.parametrize(
    "spec",
    [
        TrialSpec(1, "identity", (), None, 0, substitution=((0, 1, "/"),)),
        TrialSpec(1, "log", (), None, 0, substitution=((1, 2, "*"),)),
        TrialSpec(1, "monomial", (), None, 0, monomial=((0, 1.0),), power=2, substitution=((2, 1, "-"), (2, 0, "/"))),
        TrialSpec(1, "monomial", (), None, 0, monomial=((0, 1.0),), power=-1, substitution=((2, 0, "/"),), outer="sin"),
        TrialSpec(1, "identity", (), None, 0, power=-2, outer="sin"),
    ],
    ids=lambda spec: spec.describe(),
)
def test_read_back_undoes_the_network_target_exactly(spec):
    # Whatever the network fits on the changed inputs, the formula read back is y.
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(200, 3))
    # Values near 4: their reciprocal powers stay in (-1, 1), where asin reads them back.
    network = 3 + (X0 + 2 * sympy.cos(X1)) / 10 + sympy.exp(X2 / 7)
    sign = -1 if spec.outer == "sin" else 1
    fitted = evaluate(network, [X0, X1, X2], apply_substitution(X, spec.substitution))
    # Build y from the network's values by inverting the transform by hand.
    base = fitted
    if spec.power != 1:
        base = sign * base ** (1.0 / spec.power)
    if spec.transform == "log":
        base = sign * np.exp(base)
    elif spec.transform == "monomial":
        base = base * X[:, 0]
    y = np.arcsin(base) if spec.outer == "sin" else base
    np.testing.assert_allclose(network_target(spec, X, y), fitted, rtol=1e-10)
    formula = read_back(network, spec, [X0, X1, X2], sign)
    np.testing.assert_allclose(evaluate(formula, [X0, X1, X2], X), y, rtol=1e-10)


def test_screen_proposes_the_change_of_variables_and_the_sine_target():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(1000, 3))
    # 1/y = 1/x0 + x2/x1: additive once x2 -> x2/x1.
    y = 1 / (1 / X[:, 0] + X[:, 2] / X[:, 1])
    best = screened_trials(X, y, monomial_prefactor(X, y), seed=0)[0]
    assert (best.power, best.substitution, best.outer) == (-1, ((2, 1, "/"),), "")
    # sin(y) = x0 * sin(x1) with x0 in (0, 1): the quotient by x0 is sin(x1).
    X = np.column_stack([rng.uniform(0.05, 1, 1000), rng.uniform(1, 5, 1000)])
    y = np.arcsin(X[:, 0] * np.sin(X[:, 1]))
    best = screened_trials(X, y, monomial_prefactor(X, y), seed=0)[0]
    assert (best.outer, best.transform, best.monomial, best.substitution) == ("sin", "monomial", ((0, 1.0),), ())
    # An additive y leaves nothing for the screen to add.
    y = X[:, 0] ** 2 + np.sin(X[:, 1])
    assert screened_trials(X, y, monomial_prefactor(X, y), seed=0) == []


def test_discovery_screens_on_one_thread(monkeypatch):
    # Many small least-squares solves: two threads fight when the other core is busy.
    import threadpoolctl

    import skkan.discovery._trials

    class Screened(Exception):
        pass

    threads = []

    def spy(*args, **kwargs):
        threads.extend(pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas")
        raise Screened  # the rest of the fit does not matter here

    monkeypatch.setattr(skkan.discovery._trials, "additive_residuals", spy)
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(300, 3))
    with pytest.raises(Screened):
        KANSymbolicRegressor(random_state=0).fit(X, X[:, 0] * np.exp(X[:, 1] / 5) + X[:, 2])
    assert threads and max(threads) == 1


def test_screen_cost_is_bounded_on_wide_data(monkeypatch):
    import skkan.discovery._trials

    seen = []
    original = skkan.discovery._trials.additive_residuals

    def spy(X, targets, changes, *args, **kwargs):
        seen.append((X.shape[0], len(changes)))
        return original(X, targets, changes, *args, **kwargs)

    monkeypatch.setattr(skkan.discovery._trials, "additive_residuals", spy)
    rng = np.random.default_rng(0)
    y_of = lambda X: X[:, 0] * np.exp(X[:, 1] / 5) + X[:, 2]  # noqa: E731
    X = rng.uniform(1, 5, size=(3000, 4))
    screened_trials(X, y_of(X), (), seed=0)
    # 4 positive inputs: every ordered pair as product and ratio, every difference,
    # each difference over either other input, each product or ratio with the
    # difference of the other two, and the 3 pairs of differences; rows capped. (Later
    # calls score extra targets, or the near-exact ones with cubics, under one change each.)
    assert seen[0] == (1000, 1 + 4 * 3 * 2 + 6 + 6 * 2 + 4 * 3 * 2 + 3)
    assert all(n_changes == 1 for _, n_changes in seen[1:])
    seen.clear()
    X = rng.uniform(1, 5, size=(500, 8))
    screened_trials(X, y_of(X), (), seed=0)
    assert seen and all(entry == (500, 1) for entry in seen)


def test_pareto_table_keeps_what_beats_every_simpler_formula():
    pool = [
        _candidate(sympy.Float(2.0), 1.0),
        _candidate(2.1 * X0, 0.5),
        _candidate(2.1 * X0 + 0.1, 0.6),  # more complex and worse: not on the front
        _candidate(X0 * X1 + X2, 1e-31),
        _candidate(X0 * X1 + X2 + 1e-9 * X0, 1e-32),  # below the floor: no better than the law
    ]
    rows = pareto_table(pool)
    assert [row["equation"] for row in rows] == [sympy.Float(2.0), 2.1 * X0, X0 * X1 + X2]
    assert [row["loss"] for row in rows] == [1.0, 0.5, LOSS_FLOOR]
    assert rows[0]["score"] == 0
    assert rows[1]["score"] == pytest.approx(-(math.log(0.5) - math.log(1.0)) / (rows[1]["complexity"] - 1))
    assert select_best(rows) == 2
    assert select_best(rows, "accuracy") == 2


def test_pareto_table_counts_a_formula_once_up_to_float_noise():
    # The same formula met twice (constants equal to 4 significant digits) is one
    # formula: the first met stays. Integers and floats of one value stay apart.
    rows = pareto_table([_candidate(2.10001 * X0, 0.5), _candidate(2.10002 * X0, 0.4)])
    assert [(row["equation"], row["loss"]) for row in rows] == [(2.10001 * X0, 0.5)]
    pool = [_candidate(sympy.Float(2.0) * X0, 0.5), _candidate(2 * X0, 0.4)]
    assert [row["equation"] for row in pareto_table(pool)] == [2 * X0]
    # Different constants are different formulas, also in exponents and negative values.
    pool = [_candidate(-2.1 * X0**1.5, 0.5), _candidate(-2.2 * X0**1.5, 0.4), _candidate(-2.1 * X0**2.5, 0.3)]
    assert [row["loss"] for row in pareto_table(pool)] == [0.3]


def test_exact_constants_beat_floats_among_equals():
    pool = [_candidate(sympy.sin(3.14159265358979 * X0), 1e-30), _candidate(sympy.sin(sympy.pi * X0), 1e-29)]
    rows = pareto_table(pool)
    assert rows[0]["equation"] == sympy.sin(sympy.pi * X0)
    assert pareto_table(list(reversed(pool)))[0]["equation"] == sympy.sin(sympy.pi * X0)


def test_best_rule_prefers_a_large_drop_in_loss_within_tolerance():
    rows = pareto_table(
        [_candidate(sympy.Float(1.0), 1.0), _candidate(2 * X0, 1e-3), _candidate(2 * X0 + 0.01 * X1**2, 0.9e-3)]
    )
    assert len(rows) == 3
    # 2 x0 + 0.01 x1**2 is most accurate, but 2 x0 is within 1.5x and scores far higher.
    assert select_best(rows) == 1
    assert select_best(rows, "accuracy") == 2


def test_expand_exactly_prints_a_difference_of_squares_as_a_product():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    squares = ((X0 + X1) ** 2 - (X0 - X1) ** 2) / 4
    assert expand_exactly(squares, [X0, X1], X, precision=4) == X0 * X1
    # Not equal at the precision: kept as it is (a formula is the network, not a guess).
    approximate = 0.26 * (X0 + X1) ** 2 - 0.25 * (X0 - X1) ** 2
    assert expand_exactly(approximate, [X0, X1], X, precision=4) != X0 * X1
    assert expand_exactly(sympy.sin(X0), [X0, X1], X, precision=4) == sympy.sin(X0)
    assert expand_exactly(squares, [X0, X1], X, precision=None) == squares


def test_a_trial_network_has_the_regressor_defaults_it_does_not_set():
    """The trial's fixed settings are KANRegressor's defaults (they must not drift apart)."""
    from skkan import KANRegressor
    from skkan.discovery._trials import _NETWORK_PARAMS

    defaults = KANRegressor().get_params()
    # A trial fits full-batch, on all its rows (its formulas are validated on held-out rows).
    changed = {"solver": "lbfgs", "early_stopping": False}
    for name, value in _NETWORK_PARAMS.items():
        assert value == changed.get(name, defaults[name]), name


@pytest.mark.parametrize("random_state", [0])  # 0-5 measured (3: over x)
def test_one_input_times_a_power_of_a_polynomial_is_found_exactly(random_state):
    # x**2/sqrt(4 - x**2) over x**2 is (4 - x**2)**(-1/2): the trial on the quotient's
    # power -2 fits 4 - x**2 with one edge. Fitting only the powers 1 and -1 of the
    # quotient, discovery ran every stage (about 40 s) and returned an approximation.
    rng = np.random.default_rng(random_state)
    X = rng.uniform(0.2, 1.8, size=(600, 1))
    y = X[:, 0] ** 2 / np.sqrt(4 - X[:, 0] ** 2)
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    formula = model.get_formula()
    x = sympy.Symbol("x0", positive=True)
    assert sympy.simplify(formula.subs(X0, x) - x**2 / sympy.sqrt(4 - x**2)) == 0, formula
    # Over x**2 or over x (then (y/x)**-2 is 4/x**2 - 1), either way a power -2.
    trial = model.equations_["trial"][model.best_index_]
    assert trial.startswith("(y/(x0^") and "))^-2 ~ KAN[]" in trial, trial
