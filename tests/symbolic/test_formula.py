"""auto_symbolic, get_formula, evaluate_formula and formula_report on the estimators."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split

from skkan import KANClassifier, KANRegressor
from skkan.symbolic import LIBRARY
from skkan.symbolic._formula import round_floats

X0, X1 = sympy.symbols("x0 x1")


def _toy(seed, n=1000):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)


def _discover(X, y, random_state, **params):
    """The KAN paper's workflow: sparse training, pruning, snapping, retraining."""
    # Exact data: every row trains (early_stopping="auto" would hold out a tenth).
    settings = dict(hidden_layer_sizes=(5,), grid_size=3, lamb=1e-2, solver="lbfgs", max_iter=300, early_stopping=False)
    settings.update(params)
    reg = KANRegressor(random_state=random_state, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    return reg.prune().auto_symbolic(X, y)


def _same_up_to(formula, expected, decimals):
    """Equal structure, and every constant equal after rounding to ``decimals``."""
    return round_floats(formula, decimals) == round_floats(expected, decimals)


@pytest.fixture(scope="module")
def toy_model():
    X, y = _toy(0)
    return _discover(X, y, random_state=0), X, y


ONE = sympy.Float(1.0)


def _closed_form(formula):
    return not formula.atoms(sympy.core.function.AppliedUndef)


# The manual recipe (train, prune, snap) ends wherever sparse training lands, and that
# depends on float rounding: on one CPU random_state=0 prunes to the one hidden node
# exp(sin(pi x0) + x1**2) needs, on another to three nodes and a longer formula. What
# holds on every machine is that the formula *is* the snapped network: closed form,
# equal to predict, and a good fit. Exact recovery is the job of KANSymbolicRegressor
# (tests/discovery/test_symbolic_regressor.py), asserted there for every seed.
@pytest.mark.parametrize("random_state, width", [(1, 5), (2, 5), (3, 6)])
def test_toy_recipe_gives_a_closed_formula_equal_to_the_network(random_state, width):
    X, y = _toy(random_state)
    reg = _discover(X, y, random_state, hidden_layer_sizes=(width,))
    formula = reg.get_formula()
    assert _closed_form(formula), formula
    exact = reg.get_formula(precision=None)
    np.testing.assert_allclose(reg.evaluate_formula(X, exact), reg.predict(X), rtol=1e-9, atol=1e-9)
    values = sympy.lambdify([X0, X1], formula, "numpy")(X[:, 0], X[:, 1])
    assert np.corrcoef(values, reg.predict(X))[0, 1] ** 2 > 0.999
    assert reg.score(X, y) > 0.99
    report = reg.formula_report()
    assert report.r2[0] > 1 - 1e-8 and report.spline_edges == []
    assert {r["function"] for r in reg.symbolic_fits_} <= set(LIBRARY)


def test_sums_of_univariate_terms_and_a_composition():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1000, 2))
    y = 2 * X[:, 0] ** 2 + np.sin(X[:, 1])
    reg = _discover(X, y, 0, hidden_layer_sizes=(), grid_size=5, lamb=0.0)
    assert _same_up_to(reg.get_formula(), 2.0 * X0**2 + ONE * sympy.sin(ONE * X1), 3), reg.get_formula()
    # A composition: whether the manual recipe lands on tanh(2*x0 - x1) exactly depends
    # on where sparse training ends (and so on the CPU); it always fits and is closed
    # form. KANSymbolicRegressor's exactness is tested in test_symbolic_regressor.py.
    y = np.tanh(2 * X[:, 0] - X[:, 1])
    for random_state in range(2):
        reg = _discover(X, y, random_state, hidden_layer_sizes=(2,))
        assert _closed_form(reg.get_formula())
        assert reg.score(X, y) > 0.99


def test_iris_formulas_reproduce_the_classifier():
    X, y = load_iris(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = KANClassifier(random_state=0).fit(X_train, y_train)
    clf.auto_symbolic(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9  # pykan: 0.33-0.67 after auto_symbolic
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every edge is symbolic: no placeholder warning
        formulas = clf.get_formula()
    assert sorted(formulas) == [0, 1, 2]
    # Symbols carry the column names as given ("sepal length (cm)").
    symbols = [sympy.Symbol(name) for name in X.columns]
    assert set().union(*(f.free_symbols for f in formulas.values())) <= set(symbols)
    scores = np.column_stack(
        [np.broadcast_to(sympy.lambdify(symbols, formulas[c], "numpy")(*X_test.to_numpy().T), len(X_test)) for c in clf.classes_]
    )
    np.testing.assert_array_equal(clf.classes_[scores.argmax(1)], clf.predict(X_test))
    # Constants rounded to 4 decimals move the (large) scores by ~1e-3 relative.
    np.testing.assert_allclose(clf.evaluate_formula(X_test), clf.decision_function(X_test), rtol=1e-2, atol=1e-2)
    exact = clf.get_formula(precision=None)
    np.testing.assert_allclose(clf.evaluate_formula(X_test, exact), clf.decision_function(X_test), rtol=1e-9, atol=1e-9)


def test_binary_classifier_formula_is_a_dict_with_a_zero_reference():
    X, y = load_iris(return_X_y=True)
    labels = np.where(y == 0, "setosa", "other")
    clf = KANClassifier(random_state=0).fit(X, labels).auto_symbolic(X, labels)
    formulas = clf.get_formula()
    assert formulas["other"] == 0
    np.testing.assert_allclose(clf.evaluate_formula(X), clf.decision_function(X), atol=1e-3)
    np.testing.assert_array_equal(clf.classes_[(clf.evaluate_formula(X) > 0).astype(int)], clf.predict(X))


def test_spline_edges_appear_as_evaluable_placeholders_with_a_warning():
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 3, size=(300, 2)) * [1, 100] + [0, 50]
    y = np.sin(X[:, 0]) + 1e-4 * X[:, 1] ** 2
    reg = KANRegressor(hidden_layer_sizes=(2,), random_state=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    before = reg.predict(X)
    state = copy.deepcopy(reg.module_.state_dict())
    with pytest.warns(UserWarning, match="6 edge\\(s\\) are still splines"):
        formula = reg.get_formula(precision=None)
    names = {type(f).__name__ for f in formula.atoms(sympy.Function)}
    assert names == {"spline_0_0_0", "spline_0_0_1", "spline_0_1_0", "spline_0_1_1", "spline_1_0_0", "spline_1_0_1"}
    # lambdify evaluates the placeholders exactly as the network (inputs in range).
    values = sympy.lambdify(sympy.symbols("x0 x1"), formula, "numpy")(X[:, 0], X[:, 1])
    np.testing.assert_allclose(values, before, rtol=1e-9, atol=1e-9)
    # get_formula is read-only.
    np.testing.assert_array_equal(reg.predict(X), before)
    for name, tensor in reg.module_.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    report = reg.formula_report(X)
    assert len(report.spline_edges) == 6 and report.r2[0] > 0.999


def test_auto_symbolic_threshold_keeps_poor_fits_as_splines():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(500, 2))
    y = 2 / (1 + np.exp(-8 * X[:, 0])) + np.cos(3 * X[:, 1])  # no sigmoid in the library below
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=10, random_state=0, max_iter=200, solver="lbfgs").fit(X, y)
    reg.auto_symbolic(X, y, r2_threshold=0.999, library=["x", "x^2", "cos", "sin"])
    kept = {(r["input"], r["function"]) for r in reg.symbolic_fits_}
    assert (1, "cos") in kept and (0, None) in kept
    with pytest.warns(UserWarning, match="spline_0_0_0"):
        formula = reg.get_formula()
    assert any(isinstance(f, sympy.cos) for f in formula.atoms(sympy.Function))
    assert reg.score(X, y) > 0.99


def test_pandas_names_are_kept_as_given_and_multi_output_gives_a_list():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(-1, 1, size=(400, 3)), columns=["petal length (cm)", "2nd", "exp"])
    targets = np.column_stack([frame.iloc[:, 0] ** 2, np.sin(2 * frame.iloc[:, 1]) + frame.iloc[:, 2]])
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0, max_iter=300).fit(frame, targets)
    reg.auto_symbolic(frame, targets, r2_threshold=0.0)
    formulas = reg.get_formula()
    assert isinstance(formulas, list) and len(formulas) == 2
    names = {s.name for f in formulas for s in f.free_symbols}
    # Names as given, even one that is not an identifier ("2nd") or is a function's ("exp").
    assert names == {"petal length (cm)", "2nd", "exp"}
    np.testing.assert_allclose(reg.evaluate_formula(frame), reg.predict(frame), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="feature names"):
        reg.evaluate_formula(frame.rename(columns={"2nd": "second"}))


def test_symbolic_model_pickles_clones_and_keeps_training(toy_model):
    reg, X, y = toy_model
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    assert str(restored.get_formula()) == str(reg.get_formula())
    assert clone(reg).get_params() == reg.get_params()

    def active_symbolic(model):
        return sorted(
            (index, j, i, layer.symbolic_functions[(j, i)].name)
            for index, layer in enumerate(model.module_.layers)
            for (j, i) in layer.symbolic_functions
            if layer.mask[j, i] > 0
        )

    continued = copy.deepcopy(reg).set_params(warm_start=True, max_iter=3, lamb=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        continued.fit(X, y)
    # Warm-started training keeps the snapped functions and does not undo the fit.
    assert active_symbolic(continued) == active_symbolic(reg) != []
    assert continued.score(X, y) > min(0.99, reg.score(X, y) - 1e-3)


def test_auto_symbolic_without_data_snaps_and_keeps_the_model_close():
    X, _ = _toy(3)
    y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    # Exact data: every row trains (early_stopping="auto" would hold out a tenth).
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0, max_iter=300, early_stopping=False)
    reg.fit(X, y)
    before = reg.score(X, y)
    reg.auto_symbolic()
    assert [r["function"] for r in reg.symbolic_fits_] == ["sin", "x^2"]
    assert all(r["r2"] > 0.99 for r in reg.symbolic_fits_)
    assert reg.score(X, y) > before - 0.01
    formula = reg.get_formula(precision=2)
    assert {type(f) for f in formula.atoms(sympy.Function)} == {sympy.sin}
    assert round_floats(formula.coeff(X1**2), 1) == sympy.Float(1.0)


def test_bad_calls_raise_and_leave_the_model_untouched(toy_model):
    reg, X, y = toy_model
    reg = copy.deepcopy(reg)
    before = reg.predict(X)
    with pytest.raises(NotFittedError):
        KANRegressor().get_formula()
    with pytest.raises(NotFittedError):
        KANRegressor().auto_symbolic()
    with pytest.raises(ValueError, match="both X and y"):
        reg.auto_symbolic(X)
    with pytest.raises(ValueError, match="features"):
        reg.auto_symbolic(X[:, :1], y)
    with pytest.raises(ValueError, match="Unknown symbolic function"):
        reg.auto_symbolic(library=["sine"])
    with pytest.raises(ValueError, match="r2_threshold"):
        reg.auto_symbolic(r2_threshold=2.0)
    with pytest.raises(ValueError, match="precision"):
        reg.get_formula(precision=-1)
    with pytest.raises(ValueError, match="not features"):
        reg.evaluate_formula(X, sympy.Symbol("z") + X0)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_auto_symbolic_reports_and_warns_when_snapping_costs_score():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0).fit(X, y)
    before = reg.score(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the library fits: no warning
        good = copy.deepcopy(reg).auto_symbolic(X, y)
    assert good.snapping_scores_[0] == pytest.approx(before) and good.snapping_scores_[1] > before - 0.01
    assert good.formula_report().snapping_scores == good.snapping_scores_
    # Only straight lines allowed: the curves cannot be kept, and the score drops.
    with pytest.warns(UserWarning, match="lowered the score on the given data"):
        poor = copy.deepcopy(reg).auto_symbolic(X, y, library=("x",), r2_threshold=-np.inf)
    assert poor.snapping_scores_[0] - poor.snapping_scores_[1] > 0.01
    assert poor.snapping_scores_[1] == pytest.approx(poor.score(X, y))
    assert "score before/after snapping" in repr(poor.formula_report())
    assert copy.deepcopy(reg).auto_symbolic().snapping_scores_ is None


def test_a_feature_named_like_a_spline_placeholder_evaluates():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(-1, 1, size=(300, 2)), columns=["spline_0_0_0", "b"])
    y = np.sin(3 * frame["spline_0_0_0"]) + frame["b"]
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0).fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # edges still splines
        np.testing.assert_allclose(reg.evaluate_formula(frame, reg.get_formula(precision=None)), reg.predict(frame), rtol=1e-6, atol=1e-6)


def test_a_new_fit_forgets_what_auto_symbolic_recorded():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, max_iter=50, random_state=0).fit(X, y).auto_symbolic(X, y)
    assert reg.symbolic_fits_ and reg.snapping_scores_ is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y)
    assert not hasattr(reg, "symbolic_fits_") and not hasattr(reg, "snapping_scores_")
    assert reg.formula_report().snapping_scores is None
