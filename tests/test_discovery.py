"""The discovery workflow's pieces: monomial prefactors, the Pareto table, the choice."""

import math

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan._discovery import (
    POWERS,
    Candidate,
    TrialSpec,
    _power_root,
    monomial_prefactor,
    pareto_table,
    plan_trials,
    select_best,
)
from skkan._simplify import LOSS_FLOOR, expand_exactly

X0, X1, X2 = sympy.symbols("x0 x1 x2")
SPEC = TrialSpec(1, "identity", (), None, 0)


def _candidate(expression, loss):
    from skkan._simplify import complexity

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
    # 1/y = 1/x0 + 2/x1 is additive: the stage of additive powers finds it.
    rng = np.random.default_rng(random_state)
    X = rng.uniform(1, 5, size=(600, 2))
    y = 1 / (1 / X[:, 0] + 2 / X[:, 1])
    model = KANSymbolicRegressor(random_state=random_state).fit(X, y)
    assert sympy.simplify(model.get_formula() - 1 / (1 / X0 + 2 / X1)) == 0, model.get_formula()
    assert model.equations_["trial"][model.best_index_].startswith("y^-1 ~ KAN[]")


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
