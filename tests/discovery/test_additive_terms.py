"""Terms of an additive trial that its snapped formula misses (skkan.discovery._additive_terms)."""

import numpy as np
import pytest
import sympy

from skkan import KANSymbolicRegressor
from skkan.discovery._additive_terms import misfit_inputs, refined_additive_formulas
from skkan.symbolic._simplify import evaluate

X0, X1 = sympy.symbols("x0 x1")
SETTINGS = {"grid_size": 3, "lamb": 1e-2, "max_iter": 200, "symbolic_iter": 200, "tolerance": 1e-4, "library": None}


def _law(X):
    return np.sqrt(X[:, 0]) + 1 / np.sqrt(X[:, 0]) + 2 * np.cos(X[:, 1])


def _rows(random_state, n):
    rng = np.random.default_rng(random_state)
    return np.column_stack([rng.uniform(0.2, 5.0, n), rng.uniform(1.0, 5.0, n)])


# How a snapped additive network reads sqrt(x0) + 1/sqrt(x0): close, not exact.
SNAPPED = "0.2296*x0 + 1.5355 + 0.2340/(0.9812*x0 + 0.0117) + 2*cos(x1)"


@pytest.mark.parametrize("random_state", range(3))
def test_the_residual_is_a_function_of_the_misfit_input(random_state):
    X_fit, X_val = _rows(random_state, 400), _rows(random_state + 100, 200)
    formula = sympy.sympify(SNAPPED)
    shares = misfit_inputs(X_fit, _law(X_fit) - evaluate(formula, [X0, X1], X_fit),
                           X_val, _law(X_val) - evaluate(formula, [X0, X1], X_val))
    assert shares[0] > 0.9 and shares[1] < 0.5


@pytest.mark.parametrize("random_state", [0])  # exact for random states 0 and 1
def test_the_misfit_term_is_rediscovered_and_the_sum_is_exact(random_state):
    X_fit, X_val = _rows(random_state, 600), _rows(random_state + 100, 300)
    formulas = refined_additive_formulas(
        sympy.sympify(SNAPPED), [X0, X1], X_fit, _law(X_fit), X_val, _law(X_val), SETTINGS, random_state
    )
    assert formulas
    errors = [np.mean((evaluate(f, [X0, X1], X_val) - _law(X_val)) ** 2) / np.var(_law(X_val)) for f in formulas]
    assert min(errors) < 1e-12


def test_nothing_is_refined_where_the_formula_is_far_from_additive_or_has_one_input():
    X_fit, X_val = _rows(0, 400), _rows(100, 200)
    far = sympy.sympify("0.5*x0 + 2*cos(x1)")
    assert refined_additive_formulas(far, [X0, X1], X_fit, _law(X_fit), X_val, _law(X_val), SETTINGS, 0) == []
    one = X_fit[:, :1], X_val[:, :1]
    assert refined_additive_formulas(
        sympy.sympify("0.23*x0 + 1.5"), [X0], one[0], _law(X_fit), one[1], _law(X_val), SETTINGS, 0
    ) == []


@pytest.mark.parametrize("random_state", [0])  # exact for random states 0 and 1 (40 s each)
def test_discovery_finds_a_sum_with_a_term_outside_the_library(random_state):
    X = _rows(random_state, 800)
    model = KANSymbolicRegressor(random_state=random_state, n_jobs=1).fit(X, _law(X))
    law = sympy.sqrt(X0) + 1 / sympy.sqrt(X0) + 2 * sympy.cos(X1)
    assert sympy.simplify(model.get_formula() - law) == 0


def test_the_refinement_stage_repeats_the_best_additive_trial():
    from skkan.discovery._trials import Candidate, TrialSpec, _refinement_stage

    additive = TrialSpec(1, "log", (), None, 7)
    hidden = TrialSpec(3, "identity", (5,), None, 7)
    formula = sympy.sympify("0.23*x0 + 2*cos(x1)")
    pool = [
        Candidate(X0, 1, 1e-3, 1e-3, additive, None, sympy.sympify("x0")),
        Candidate(X1, 1, 1e-5, 1e-5, additive, None, formula),
        Candidate(X0 * X1, 3, 1e-9, 1e-9, hidden),  # no additive formula to refine
    ]
    (spec,) = _refinement_stage(pool)
    assert spec.refine == formula and spec.transform == "log" and spec.stage == 2
    assert "rediscovered" in spec.describe()
    assert _refinement_stage(pool[2:]) == []
