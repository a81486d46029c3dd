import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skkan import KANClassifier, KANPruner, KANRegressor


@pytest.fixture(scope="module")
def two_relevant_of_eight():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1000, 8))
    y = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2) + 0.05 * rng.normal(size=1000)
    return X, y


@pytest.mark.parametrize("random_state", range(5))
def test_pruner_keeps_exactly_the_relevant_features(two_relevant_of_eight, random_state):
    X, y = two_relevant_of_eight
    pruner = KANPruner(random_state=random_state).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(pruner.get_support()), [0, 1])
    assert pruner.transform(X).shape == (1000, 2)
    # prune() left the irrelevant inputs without any active edge.
    first = pruner.estimator_.module_.layers[0]
    assert torch.all(first.mask[:, 2:] == 0)
    assert np.all(pruner.estimator_.feature_importances_[2:] == 0)


def test_prune_equals_replacing_the_edges_by_their_means_by_hand(two_relevant_of_eight):
    X, y = two_relevant_of_eight
    reg = KANRegressor(hidden_layer_sizes=(5,), lamb=1e-3, random_state=0).fit(X[:600], y[:600])
    by_hand = copy.deepcopy(reg)
    module = by_hand.module_
    x = by_hand._attribution_data.to(torch.float32)
    weight = by_hand._attribution_weight.float()
    _, edge_scores = module.attribution(x, sample_weight=weight)
    with torch.no_grad():
        for layer, scores, layer_in in zip(module.layers, edge_scores, module.layer_inputs(x)):
            removed = (scores < 3e-2) & (layer.mask > 0)
            mean = (layer.edge_activations(layer_in) * (weight / weight.sum())[:, None, None]).sum(0)
            layer.bias += (mean * removed).sum(1)
            layer.mask.mul_((~removed).float())
    by_hand._model_changed()
    n_hidden_before = reg.module_.widths[1]
    reg.prune()
    assert reg.module_.widths[1] <= n_hidden_before
    np.testing.assert_allclose(reg.predict(X), by_hand.predict(X), rtol=1e-5, atol=1e-5)
    assert reg.score(X[600:], y[600:]) > 0.9


def test_pruning_a_flat_edge_with_an_offset_keeps_predictions():
    """A weak edge can carry a large constant: pruning keeps it in the bias."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(400, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1]
    reg = KANRegressor(hidden_layer_sizes=(), dtype="float64", random_state=0, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    with torch.no_grad():  # x2's edge: flat, but shifted by +3 (in standardised units)
        layer = reg.module_.layers[0]
        layer.coef[0, 2] = 3.0 / layer.scale_spline[0, 2]  # B-splines sum to 1: a constant curve
        layer.scale_base[0, 2] = 0.0
        layer.bias[0] -= 3.0
    reg._model_changed()
    before = reg.predict(X)
    reg.prune(edge_threshold=1e-3)
    assert reg.module_.layers[0].mask[0, 2] == 0
    np.testing.assert_allclose(reg.predict(X), before, atol=1e-8)


def test_prune_removes_dead_hidden_nodes_exactly():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(500, 3))
    y = X[:, 0] ** 2 + np.sin(2 * X[:, 1])
    reg = KANRegressor(hidden_layer_sizes=(6,), random_state=0, max_iter=60, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    before = reg.predict(X)
    with torch.no_grad():  # hidden nodes 4 and 5 lose every incoming edge: constants
        reg.module_.layers[0].mask[4:] = 0
    reg._model_changed()
    zeroed = reg.predict(X)
    assert not np.allclose(zeroed, before)
    reg.prune(node_threshold=0.0, edge_threshold=0.0)
    assert reg.module_.widths == [3, 4, 1]
    np.testing.assert_allclose(reg.predict(X), zeroed, atol=1e-10)


def test_pruner_pandas_output_names_and_inverse(two_relevant_of_eight):
    X, y = two_relevant_of_eight
    frame = pd.DataFrame(X, columns=[f"feature_{i}" for i in range(8)])
    pruner = KANPruner(random_state=0).set_output(transform="pandas").fit(frame, y)
    out = pruner.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["feature_0", "feature_1"]
    np.testing.assert_array_equal(pruner.get_feature_names_out(), ["feature_0", "feature_1"])
    restored = pruner.inverse_transform(out.to_numpy())
    assert restored.shape == (1000, 8) and np.all(restored[:, 2:] == 0)


def test_pruner_max_features_prefit_and_given_estimator(two_relevant_of_eight):
    X, y = two_relevant_of_eight
    top = KANPruner(random_state=0, max_features=1).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(top.get_support()), [0])  # exp(sin(pi x0)) dominates
    fitted = KANRegressor(lamb=1e-3, random_state=0).fit(X, y)
    prefit = KANPruner(estimator=fitted, prefit=True).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(prefit.get_support()), [0, 1])
    assert prefit.estimator_ is not fitted and torch.all(fitted.module_.layers[0].mask == 1)
    given = KANPruner(estimator=KANRegressor(lamb=1e-3, random_state=0, grid_size=5))
    assert given.get_params()["estimator__grid_size"] == 5
    assert given.fit(X, y).estimator_.grid_size == 5
    with pytest.raises(ValueError, match="max_features"):
        KANPruner(random_state=0, max_features=9).fit(X, y)


def test_pruner_chooses_a_classifier_for_labels():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5))
    y = np.where(X[:, 2] + 0.5 * X[:, 3] ** 2 > 0.3, "high", "low")
    pruner = KANPruner(random_state=0).fit(X, y)
    assert isinstance(pruner.estimator_, KANClassifier)
    assert pruner.get_support()[2]


def test_grid_search_over_pruner_pipeline_with_two_jobs(two_relevant_of_eight):
    X, y = two_relevant_of_eight
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("prune", KANPruner(estimator=KANRegressor(lamb=1e-3, max_iter=20, random_state=0))),
            ("kan", KANRegressor(max_iter=20, random_state=0)),
        ]
    )
    grid = {"kan__grid_size": [3, 5], "kan__spline_order": [2, 3], "kan__lamb": [0.0, 1e-3]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipeline, grid, cv=2, n_jobs=2).fit(X[:300], y[:300])
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.named_steps["kan"].n_features_in_ == search.best_estimator_.named_steps["prune"].get_support().sum()
    assert search.score(X[300:400], y[300:400]) > 0.5


def test_penalty_makes_the_network_sparser_with_both_solvers(two_relevant_of_eight):
    X, y = two_relevant_of_eight
    spreads = {}
    for solver, kwargs in (("adam", {"batch_size": 256, "max_iter": 30}), ("lbfgs", {"max_iter": 100})):
        for lamb in (0.0, 1e-2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                reg = KANRegressor(solver=solver, lamb=lamb, random_state=0, **kwargs).fit(X, y)
            # Edge scores of the irrelevant inputs (2..7) in the first layer.
            spreads[solver, lamb] = reg.edge_scores_[0][:, 2:].sum()
            assert len(reg.edge_scores_) == 2 and reg.edge_scores_[0].shape == (6, 8)
            assert len(reg.node_scores_) == 3 and reg.node_scores_[-1].tolist() == [1.0]
        assert spreads[solver, 1e-2] < 0.5 * spreads[solver, 0.0]


@pytest.mark.parametrize("random_state", range(3))
def test_default_threshold_selects_features_on_ordinary_data(random_state):
    """With its defaults the pruner selects: attribution spreads over every input of a
    fitted network, so keeping "any surviving edge" kept 13 of 13 wine features."""
    from sklearn.datasets import load_wine, make_friedman1

    X, y = load_wine(return_X_y=True)
    kept = KANPruner(random_state=random_state).fit(X, y).get_support()
    assert 2 <= kept.sum() <= 10
    X, y = make_friedman1(n_samples=500, n_features=10, random_state=random_state)
    pruner = KANPruner(random_state=random_state).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(pruner.get_support()), [0, 1, 2, 3, 4])  # the informative ones
    median = KANPruner(threshold="median", random_state=random_state).fit(X, y).get_support()
    assert median.sum() >= 5
