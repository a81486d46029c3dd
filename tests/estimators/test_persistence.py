"""Saving fitted estimators: pickle and skops.io hold numpy arrays and plain values."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skkan import KANClassifier, KANPruner, KANRegressor, KANSymbolicRegressor
from skkan.nn import KAN

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_acb63ec.pkl"


def _data(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, X[:, 0] ** 2 + np.sin(2 * X[:, 1])


def _assert_no_torch(model):
    data = pickle.dumps(model)
    assert b"torch" not in data
    assert b"skkan.nn" not in data  # no KAN / KANLayer objects either


def _skops_round_trip(model, tmp_path, expected_untrusted):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) == set(expected_untrusted)
    return sio.load(path, trusted=untrusted)


def _regressor():
    X, y = _data()
    return KANRegressor(hidden_layer_sizes=(2,), grid_size=3, max_iter=10, random_state=0).fit(X, y), X


def test_regressor_pickle_and_skops(tmp_path):
    reg, X = _regressor()
    _assert_no_torch(reg)
    for loaded in (
        pickle.loads(pickle.dumps(reg)),
        _skops_round_trip(reg, tmp_path, ["skkan._regressor.KANRegressor"]),
    ):
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
        np.testing.assert_array_equal(loaded.feature_importances_, reg.feature_importances_)
        assert isinstance(loaded.module_, KAN)
        assert loaded.module_.layers[0].coef.dtype == torch.float32
        assert loaded.loss_curve_ == reg.loss_curve_
        # A loaded model keeps training (warm start) like the original.
        loaded.set_params(warm_start=True, max_iter=2).fit(X, X[:, 0])


def test_classifier_with_string_labels(tmp_path):
    X, _ = _data(90)
    labels = np.array(["setosa", "versicolor", "virginica"])[np.digitize(X[:, 0], [-0.3, 0.3])]
    clf = KANClassifier(hidden_layer_sizes=(), grid_size=3, max_iter=10, random_state=0).fit(X, labels)
    _assert_no_torch(clf)
    for loaded in (
        pickle.loads(pickle.dumps(clf)),
        _skops_round_trip(clf, tmp_path, ["skkan._classifier.KANClassifier"]),
    ):
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
        np.testing.assert_array_equal(loaded.classes_, clf.classes_)


def test_pruned_symbolic_regressor(tmp_path):
    X, y = _data(120)
    reg = KANRegressor(hidden_layer_sizes=(2,), grid_size=3, lamb=1e-3, max_iter=30, random_state=0).fit(X, y)
    reg.prune().auto_symbolic(X, y, library=("x", "x^2", "sin", "0"), r2_threshold=0.5, max_iter=10)
    reg.fix_symbolic(0, 0, 1, {"sinh": "sinh(x)"})  # a user-defined function, stored by its expression
    assert any(layer.symbolic_functions for layer in reg.module_.layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        formula = reg.get_formula()
    _assert_no_torch(reg)
    for loaded in (
        pickle.loads(pickle.dumps(reg)),
        _skops_round_trip(reg, tmp_path, ["skkan._regressor.KANRegressor"]),
    ):
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
        for before, after in zip(reg.module_.layers, loaded.module_.layers):
            assert {k: f.name for k, f in before.symbolic_functions.items()} == {
                k: f.name for k, f in after.symbolic_functions.items()
            }
            np.testing.assert_array_equal(before.mask.numpy(), after.mask.numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            assert str(loaded.get_formula()) == str(formula)
        assert loaded.symbolic_fits_ == reg.symbolic_fits_


def test_symbolic_regressor(tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = _data(60)
    y = X[:, 0] ** 2 + np.sin(X[:, 1])
    model = KANSymbolicRegressor(
        n_restarts=1, max_iter=20, hidden_width=1, library=("x", "x^2", "sin", "0"), random_state=0
    ).fit(X, y)
    data = pickle.dumps(model)
    assert b"torch" not in data and b"sympy" not in data and b"pandas" not in data
    for loaded in (
        pickle.loads(data),
        _skops_round_trip(model, tmp_path, ["skkan.discovery._estimator.KANSymbolicRegressor"]),
    ):
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        pd.testing.assert_frame_equal(loaded.equations_, model.equations_)
        assert loaded.get_formula() == model.get_formula()
        assert type(loaded.get_formula()) is type(model.get_formula())


def test_files_of_state_format_1_still_load():
    """Format 1 (before target objects): regressors kept _y_mean, _y_scale and _y_1d,
    classifiers only classes_; KANSymbolicRegressor named no formula tables."""
    reg, X = _regressor()
    state = reg.__getstate__()
    targets = state.pop("_targets")
    state.update(_y_mean=targets["mean"], _y_scale=targets["scale"], _y_1d=targets["one_dimensional"])
    state["_skkan_state"] = {"version": 1, "modules": state["_skkan_state"]["modules"], "tensors": state["_skkan_state"]["tensors"]}
    old = KANRegressor.__new__(KANRegressor)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(X), reg.predict(X))

    model = KANSymbolicRegressor(n_restarts=1, max_iter=5, hidden_width=1, library=("x", "0"), random_state=0)
    model.fit(X, X[:, 0] * 2.0)
    state = model.__getstate__()
    state["_skkan_state"] = {"version": 1}
    old = KANSymbolicRegressor.__new__(KANSymbolicRegressor)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(X), model.predict(X))


def test_the_old_module_of_the_symbolic_regressor_still_names_it():
    """Files saved before skkan.discovery name skkan._symbolic_regressor."""
    import skkan._symbolic_regressor

    assert skkan._symbolic_regressor.KANSymbolicRegressor is KANSymbolicRegressor


def test_pruner_in_a_pipeline(tmp_path):
    X, y = _data(80)
    X = np.column_stack([X, np.random.RandomState(1).normal(size=len(X))])
    pipe = make_pipeline(
        KANPruner(KANRegressor(hidden_layer_sizes=(), grid_size=3, lamb=1e-2, max_iter=20, random_state=0)),
        KANRegressor(hidden_layer_sizes=(), grid_size=3, max_iter=10, random_state=0),
    ).fit(X, y)
    _assert_no_torch(pipe)
    expected = ["skkan._pruner.KANPruner", "skkan._regressor.KANRegressor"]
    for loaded in (pickle.loads(pickle.dumps(pipe)), _skops_round_trip(pipe, tmp_path, expected)):
        np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
        np.testing.assert_array_equal(loaded[0].get_support(), pipe[0].get_support())


def test_kan_state_round_trip_is_exact_and_leaves_the_rng_alone():
    net = KAN([3, 2, 1], grid_size=4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    from skkan.symbolic import LIBRARY

    net.layers[0].set_symbolic(1, 2, LIBRARY["sin"], [1.5, 0.2, 0.7, -0.1])
    net.layers[0].coef.requires_grad_(False)
    state = net.to_state()
    assert b"torch" not in pickle.dumps(state)
    rng_before = torch.get_rng_state()
    rebuilt = KAN.from_state(state)
    assert torch.equal(rng_before, torch.get_rng_state())
    x = torch.randn(7, 3, dtype=torch.float64)
    assert torch.equal(rebuilt(x), net(x))
    assert rebuilt.layers[0].symbolic_functions[(1, 2)] is LIBRARY["sin"]
    assert not rebuilt.layers[0].coef.requires_grad and rebuilt.layers[0].scale_base.requires_grad
    with pytest.raises(ValueError, match="newer skkan"):
        KAN.from_state({**state, "version": 99})


def test_newer_format_is_a_clear_error():
    reg, _ = _regressor()
    state = reg.__getstate__()
    state["_skkan_state"] = {**state["_skkan_state"], "version": 99}
    with pytest.raises(ValueError, match="Upgrade skkan"):
        KANRegressor().__setstate__(state)


def test_pickles_of_the_previous_format_still_load():
    """tests/data/legacy_acb63ec.pkl was written by commit acb63ec (torch modules
    pickled directly) with tests/data/make_legacy_fixture.py."""
    with open(LEGACY, "rb") as f:
        payload = pickle.load(f)
    X = payload["X"]
    reg, clf = payload["regressor"], payload["classifier"]
    # The fixture's numbers were computed on another CPU: float64 rounding may differ
    # in the last bit, so the comparison with them allows an ulp or two.
    np.testing.assert_allclose(reg.predict(X), payload["regressor_predict"], rtol=1e-14, atol=1e-16)
    # Same scores; binary probabilities are now expit(-s), expit(s) (within an ulp of before).
    np.testing.assert_allclose(clf.predict_proba(X), payload["classifier_proba"], rtol=1e-14, atol=1e-16)
    assert reg.module_.layers[0].symbolic_functions[(0, 0)].name == "x^2"
    assert reg.get_params()["interactions"] == 0  # a parameter added after the file was written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert "x0" in str(reg.get_formula())
    # ... and re-saving writes the new format.
    _assert_no_torch(reg)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_a_cuda_model_loads_where_there_is_no_cuda():
    """A model whose device is CUDA loads onto the CPU when CUDA is missing.

    (Trained on the CPU here, then marked ``device="cuda"``: the saved state is the
    same arrays either way, since saving always goes through the CPU.)
    """
    reg, X = _regressor()
    reg.device = "cuda"
    loaded = pickle.loads(pickle.dumps(reg))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(loaded.module_.parameters()).device.type == expected
    assert loaded.module_.layers[0].coef.dtype == torch.float32
    if expected == "cpu":
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # Spline placeholders are new sympy functions on every call: compare the text.
        assert str(loaded.get_formula()) == str(reg.get_formula())


def test_formulas_and_plots_read_a_float64_cpu_copy():
    reg, _ = _regressor()
    module = reg._float64_module()
    assert module is not reg.module_
    assert next(module.parameters()).device.type == "cpu"
    assert {p.dtype for p in module.parameters()} == {torch.float64}
    assert reg.module_.layers[0].coef.dtype == torch.float32
    # The copy follows the model: after pruning it is the pruned network.
    reg.prune(edge_threshold=0.5)
    np.testing.assert_array_equal(reg._float64_module().layers[0].mask.numpy(), reg.module_.layers[0].mask.numpy())


def test_partial_fit_resumes_identically_after_a_skops_round_trip(tmp_path):
    X, y = _data(n=400)
    model = KANClassifier(hidden_layer_sizes=(3,), batch_size=64, random_state=0)
    labels = np.where(y > np.median(y), "high", "low")
    model.partial_fit(X[:200], labels[:200], classes=["high", "low"])
    _assert_no_torch(model)
    loaded = _skops_round_trip(model, tmp_path, ["skkan._classifier.KANClassifier"])
    for estimator in (model, loaded):  # the Adam moments travel with the model
        estimator.partial_fit(X[200:], labels[200:])
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
