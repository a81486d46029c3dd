"""Additive estimators: interactions, term_names_, term_importances_, explain, plot_terms."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.base import clone
from sklearn.datasets import load_iris

from skkan import KANClassifier, KANRegressor

FAST = {"max_iter": 60, "grid_size": 4}


def _interacting_data(seed, n=1500):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 2 * X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=n)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]), y


@pytest.mark.parametrize("seed", range(3))
def test_auto_finds_the_interaction_and_it_improves_the_fit(seed):
    X, y = _interacting_data(seed)
    X_test, y_test = _interacting_data(seed + 100)
    additive = KANRegressor(hidden_layer_sizes=(), random_state=seed, **FAST).fit(X, y)
    model = KANRegressor(hidden_layer_sizes=(), interactions="auto", random_state=seed, **FAST).fit(X, y)
    assert "c & d" in model.term_names_
    assert model.term_names_[:4] == ["a", "b", "c", "d"]
    # E|2cd| = 0.5 > E|b^2 - 1/3| = 0.26, and the model is far better than without the pair.
    importance = dict(zip(model.term_names_, model.term_importances_))
    assert importance["c & d"] > max(importance["b"], 0.35)
    assert model.score(X_test, y_test) > additive.score(X_test, y_test) + 0.2
    assert model.score(X_test, y_test) > 0.9


def test_explain_sums_to_the_prediction_of_a_regressor():
    X, y = _interacting_data(0, n=600)
    model = KANRegressor(hidden_layer_sizes=(), interactions=[("c", "d")], random_state=0, **FAST).fit(X, y)
    assert model.term_names_ == ["a", "b", "c", "d", "c & d"]
    frame = model.explain(X.iloc[10:30])
    assert list(frame.columns) == model.term_names_ + ["intercept"]
    assert (frame.index == X.index[10:30]).all()
    np.testing.assert_allclose(frame.sum(axis=1).to_numpy(), model.predict(X.iloc[10:30]), rtol=1e-9, atol=1e-9)
    importances = model.term_importances_
    assert importances.shape == (5,) and (importances >= 0).all()


def test_explain_of_classifiers_sums_to_the_decision_function():
    X, y = load_iris(return_X_y=True, as_frame=True)
    multi = KANClassifier(hidden_layer_sizes=(), interactions=1, random_state=0, **FAST).fit(X, y)
    frames = multi.explain(X)
    assert sorted(frames) == [0, 1, 2]
    decision = multi.decision_function(X)
    for position, label in enumerate(multi.classes_):
        np.testing.assert_allclose(frames[label].sum(axis=1).to_numpy(), decision[:, position], atol=1e-9)
    binary = KANClassifier(hidden_layer_sizes=(), random_state=0, **FAST).fit(X, y == 2)
    frame = binary.explain(X)
    np.testing.assert_allclose(frame.sum(axis=1).to_numpy(), binary.decision_function(X), atol=1e-9)
    assert binary.term_names_ == list(X.columns)


def test_multi_output_regressor_explains_every_output():
    X, y = _interacting_data(1, n=400)
    Y = np.column_stack([y, -y])
    model = KANRegressor(hidden_layer_sizes=(), random_state=0, **FAST).fit(X, Y)
    frames = model.explain(X.iloc[:7])
    for output in (0, 1):
        np.testing.assert_allclose(frames[output].sum(axis=1).to_numpy(), model.predict(X.iloc[:7])[:, output], atol=1e-9)


def test_non_additive_models_have_no_terms():
    X, y = _interacting_data(2, n=300)
    model = KANRegressor(hidden_layer_sizes=(3,), random_state=0, **FAST).fit(X, y)
    assert not hasattr(model, "term_names_")
    with pytest.raises(AttributeError, match="additive models only"):
        model.explain(X)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(\)"):
        KANRegressor(hidden_layer_sizes=(3,), interactions=2).fit(X, y)
    # A failed fit leaves a fitted model as it was.
    before = model.predict(X)
    with pytest.raises(ValueError):
        model.set_params(interactions=[(0, 9)], hidden_layer_sizes=()).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), before)


def test_pruning_pickle_and_formula_keep_the_terms():
    X, y = _interacting_data(3, n=800)
    model = KANRegressor(hidden_layer_sizes=(), interactions=[(2, 3)], random_state=0, **FAST).fit(X, y)
    model.prune(edge_threshold=0.02)
    names, frame = model.term_names_, model.explain(X)
    np.testing.assert_allclose(frame.sum(axis=1).to_numpy(), model.predict(X), atol=1e-9)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.term_names_ == names
    pd.testing.assert_frame_equal(loaded.explain(X), frame)
    formula = model.get_formula()
    assert {"c", "d"} <= {str(symbol) for symbol in formula.free_symbols}
    assert clone(model).get_params()["interactions"] == [(2, 3)]


def test_partial_fit_and_warm_start_keep_the_pairs():
    X, y = _interacting_data(4, n=500)
    model = KANRegressor(hidden_layer_sizes=(), interactions=[(0, 1)], random_state=0, warm_start=True, **FAST)
    model.fit(X, y)
    widths = model.module_.widths
    model.fit(X, y)
    model.partial_fit(X, y)
    assert model.module_.widths == widths
    assert "a & b" in model.term_names_


def test_plot_terms_draws_one_panel_per_term_by_importance():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = _interacting_data(5, n=600)
    model = KANRegressor(hidden_layer_sizes=(), interactions=[("c", "d")], random_state=0, **FAST).fit(X, y)
    figure = model.plot_terms(max_terms=3)
    axes = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    order = np.argsort(-model.term_importances_)[:3]
    assert [ax.get_title().split("  (")[0] for ax in axes] == [model.term_names_[i] for i in order]
    pair_axes = [ax for ax in axes if " & " in ax.get_title()]
    assert pair_axes and pair_axes[0].get_xlabel() == "c" and pair_axes[0].get_ylabel() == "d"
    feature_axes = [ax for ax in axes if " & " not in ax.get_title()]
    for ax in feature_axes:
        name = ax.get_title().split("  (")[0]
        low, high = ax.get_xlim()
        # Axes in the data's units: the feature's range, not the scaled one.
        assert low <= X[name].min() + 0.05 and high >= X[name].max() - 0.05
        assert any(line.get_gid() == "term_curve" for line in ax.get_lines())
    # sin(2a) has a simple closed form over [-1, 1]: drawn, in the feature's name.
    a_axes = [ax for ax in feature_axes if ax.get_title().startswith("a ")]
    if a_axes:
        labels = [line.get_label() for line in a_axes[0].get_lines() if line.get_gid() == "symbolic_fit"]
        assert len(labels) == 1 and "*a" in labels[0]
    plt.close(figure)
    with pytest.raises(ValueError, match="max_terms"):
        model.plot_terms(max_terms=0)


@pytest.mark.parametrize("seed", range(4))
def test_auto_adds_no_pair_to_additive_data(seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(800, 4)), columns=["a", "b", "c", "d"])
    y = np.sin(2 * X["a"]) + X["b"] ** 2 - X["c"] + 0.3 * rng.normal(size=800)
    model = KANRegressor(hidden_layer_sizes=(), interactions="auto", random_state=seed, **FAST).fit(X, y)
    assert model.term_names_ == ["a", "b", "c", "d"]
    assert model.module_.widths == [4, 1]


@pytest.mark.parametrize("seed", range(2))
def test_auto_tries_pairs_significant_on_their_own_as_a_set(seed, monkeypatch):
    # No pair passes the family-wise test (as weak pairs among hundreds of one-hot
    # columns rarely do); the pairs significant on their own are still tried
    # together, and kept because together they lower the out-of-fold loss.
    from skkan import _additive

    original = _additive.rank_pairs

    def nothing_significant_family_wise(*args, **kwargs):
        return [(pair, gain, False, *rest) for pair, gain, _, *rest in original(*args, **kwargs)]

    monkeypatch.setattr(_additive, "rank_pairs", nothing_significant_family_wise)
    X, y = _interacting_data(seed)
    model = KANRegressor(hidden_layer_sizes=(), interactions="auto", random_state=seed, **FAST).fit(X, y)
    assert "c & d" in model.term_names_
    X_test, y_test = _interacting_data(seed + 100)
    assert model.score(X_test, y_test) > 0.9


@pytest.mark.parametrize("seed", range(3))
def test_pairs_are_purified_so_main_effects_stay_with_their_feature(seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(1500, 3)), columns=["a", "b", "c"])
    y = 3 * X["a"] + X["b"] * X["c"] + 0.1 * rng.normal(size=1500)
    model = KANRegressor(
        hidden_layer_sizes=(), interactions=[("a", "b"), ("b", "c")], random_state=seed, **FAST
    ).fit(X, y)
    importance = dict(zip(model.term_names_, model.term_importances_))
    # a's effect (mean |3a| = 1.5) shows in a's own term, not in the pair it shares with b.
    assert importance["a"] > 1.2
    assert importance["a & b"] < 0.3 * importance["a"]
    frame = model.explain(X)
    np.testing.assert_allclose(frame.sum(axis=1).to_numpy(), model.predict(X), atol=1e-9)
    # A purified pair averages to about 0 over either of its inputs.
    bins = pd.qcut(X["b"], 5, labels=False)
    assert frame["b & c"].groupby(bins).mean().abs().max() < 0.1


def test_formula_names_pair_terms_and_spline_main_effects():
    X, y = _interacting_data(6, n=800)
    model = KANRegressor(hidden_layer_sizes=(), interactions=[("c", "d")], random_state=0, **FAST).fit(X, y)
    formula = model.get_formula()
    names = {type(f).__name__ for f in formula.atoms(sympy.Function)}
    assert {"pair_2_3", "main_0", "main_1", "main_2", "main_3"} <= names
    assert not any(name.startswith("spline_") for name in names)
    np.testing.assert_allclose(model.evaluate_formula(X, model.get_formula(precision=None)), model.predict(X), atol=1e-9)
    # Snapped main effects print as closed forms; the pair stays one named term.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.auto_symbolic(X, y, r2_threshold=0.0)
        formula = model.get_formula()
    names = {type(f).__name__ for f in formula.atoms(sympy.Function)}
    assert "pair_2_3" in names and not any(name.startswith("main_") for name in names)
    assert len(str(formula)) < 400
    # Each main effect was folded into one edge first: it prints as one closed form of
    # its input, never a function of a function (cos(6*cos(...))).
    for term in sympy.Add.make_args(formula):
        if len(term.free_symbols) == 1:
            for function in term.atoms(sympy.Function):
                assert not any(isinstance(inner, sympy.Function) for inner in function.args[0].atoms(sympy.Function)), term
