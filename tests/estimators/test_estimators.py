import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_friedman1
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.feature_selection import SelectFromModel
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkan import KANClassifier, KANRegressor
from skkan._least_squares import SMOOTHING_GRID
from skkan._training import TrainingConfig
from skkan.nn import KAN


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=600, noise=0.1, random_state=0)
    return X, y


def _params_equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.module_.state_dict().values(), b.module_.state_dict().values()))


# ---------------------------------------------------------------- classifier
def test_iris_accuracy_and_probabilities(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    clf = KANClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.93
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-10)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X_test))
    assert clf.decision_function(X_test).shape == (len(X_test), 3)


def test_hidden_layer_classifier_on_iris(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    clf = KANClassifier(hidden_layer_sizes=(5,), random_state=0).fit(X_train, y_train)
    assert clf.module_.widths == [4, 5, 3]
    assert clf.score(X_test, y_test) >= 0.9


def test_string_labels_and_binary_decision_function():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    clf = KANClassifier(random_state=0).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    scores = clf.decision_function(X)
    assert scores.shape == (200,)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "yes", "no"))
    assert clf.score(X, labels) > 0.85
    assert clf.predict_proba(X).shape == (200, 2)


def test_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        KANClassifier().fit(np.random.rand(10, 2), np.zeros(10))


# ---------------------------------------------------------------- regressor
def test_regressor_learns_friedman(friedman):
    X, y = friedman
    reg = KANRegressor(random_state=0).fit(X[:500], y[:500])
    assert reg.score(X[500:], y[500:]) > 0.9
    assert reg.n_iter_ == len(reg.loss_curve_)
    # Training loss in standardised units (1 - training R^2 for one output).
    assert reg.loss_curve_[-1] < 0.1
    importances = reg.feature_importances_
    assert importances.shape == (10,) and np.all(importances >= 0)
    np.testing.assert_allclose(importances.sum(), 1.0)
    # Features 5-9 do not enter Friedman #1.
    assert importances[:5].sum() > importances[5:].sum()


def test_multi_output_regression(friedman):
    X, y = friedman
    Y = np.column_stack([y, -2 * y + 1])
    reg = KANRegressor(random_state=0, max_iter=50).fit(X, Y)
    prediction = reg.predict(X)
    assert prediction.shape == (600, 2)
    np.testing.assert_allclose(prediction[:, 1], -2 * prediction[:, 0] + 1, atol=0.5 * y.std())


def test_raw_unscaled_features_need_no_scaler():
    rng = np.random.default_rng(0)
    x0 = rng.lognormal(8, 1.0, 2000)  # heavy-tailed, thousands (like Population)
    x1 = rng.uniform(-1e-3, 1e-3, 2000)  # tiny scale
    y = np.log(x0) + 2000 * x1
    X = np.column_stack([x0, x1])
    reg = KANRegressor(random_state=0).fit(X[:1500], y[:1500])
    assert reg.score(X[1500:], y[1500:]) > 0.97


def test_lbfgs_solver(friedman):
    X, y = friedman
    reg = KANRegressor(solver="lbfgs", max_iter=60, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.9


def test_early_stopping_restores_the_best_weights(friedman):
    X, y = friedman
    reg = KANRegressor(early_stopping=True, random_state=0, max_iter=80).fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_loss_ is None
    # Re-score the held-out split the way fit made it: the restored model is the best.
    from sklearn.model_selection import train_test_split as split

    rng = np.random.RandomState(0)
    rng.randint(np.iinfo(np.int32).max)
    _, val = split(np.arange(len(X)), test_size=0.1, random_state=rng)
    assert reg.score(X[val], y[val]) == pytest.approx(reg.best_validation_score_, abs=1e-4)


def test_convergence_warning_when_max_iter_is_reached(friedman):
    X, y = friedman
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        KANRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(X, y)


def test_warm_start_continues_training(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = KANRegressor(hidden_layer_sizes=(2,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
        first_loss, first_iter = reg.loss_curve_[-1], reg.n_iter_
        reg.fit(X, y)
    assert reg.n_iter_ == first_iter + 5
    assert reg.loss_curve_[-1] < first_loss


def test_sample_weight_zero_equals_dropping_rows(friedman):
    X, y = friedman
    X_extra = np.vstack([X[:200], X[200:300] * 3])
    y_extra = np.concatenate([y[:200], -y[200:300]])
    weight = np.concatenate([np.ones(200), np.zeros(100)])
    kwargs = dict(random_state=0, max_iter=30, dtype="float64", batch_size=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dropped = KANRegressor(**kwargs).fit(X[:200], y[:200])
        weighted = KANRegressor(**kwargs).fit(X_extra, y_extra, sample_weight=weight)
    np.testing.assert_allclose(weighted.predict(X[:50]), dropped.predict(X[:50]), rtol=1e-6, atol=1e-8)
    # Weights change the fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        other = KANRegressor(**kwargs).fit(X_extra, y_extra)
    assert not np.allclose(other.predict(X[:50]), dropped.predict(X[:50]))


# ---------------------------------------------------------------- reproducibility
def test_same_random_state_is_bit_identical_and_global_rng_untouched(friedman):
    X, y = friedman
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    for hidden in ((2,), ()):  # trained by the solver, and solved in closed form
        a = KANRegressor(hidden_layer_sizes=hidden, random_state=7, max_iter=20).fit(X, y)
        b = KANRegressor(hidden_layer_sizes=hidden, random_state=7, max_iter=20).fit(X, y)
        assert torch.equal(torch.get_rng_state(), before)
        assert torch.get_num_threads() == threads
        assert _params_equal(a, b)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        c = KANRegressor(hidden_layer_sizes=hidden, random_state=8, max_iter=20).fit(X, y)
        # The seed starts the solver; the closed form has no start (on fewer rows than
        # its grids are fitted to, it does not depend on the seed at all).
        assert _params_equal(a, c) == (hidden == ())


# ---------------------------------------------------------------- persistence and tools
def test_pickle_joblib_and_clone(tmp_path, iris_split):
    X_train, X_test, y_train, _ = iris_split
    clf = KANClassifier(random_state=0).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X_test), expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "module_") and fresh.get_params() == clf.get_params()
    assert isinstance(clf.module_, KAN)


def test_pandas_in_feature_names_out(iris_split):
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = KANClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    assert clf.predict(X.iloc[:5]).shape == (5,)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X.to_numpy()[:5])
    reordered = X[X.columns[::-1]]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(reordered)


def test_grid_search_pipeline_and_select_from_model(friedman):
    X, y = friedman
    search = GridSearchCV(
        make_pipeline(StandardScaler(), KANRegressor(max_iter=15, random_state=0)),
        {"kanregressor__grid_size": [3, 5], "kanregressor__spline_order": [2, 3]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:300], y[:300])
        assert set(search.best_params_) == {"kanregressor__grid_size", "kanregressor__spline_order"}
        selector = SelectFromModel(KANRegressor(random_state=0, max_iter=40), threshold="mean").fit(X, y)
    assert selector.get_support()[:5].sum() >= 3


def test_seed_ensemble_recipe_of_the_user_guide(friedman):
    # The user guide's recipe: BaggingRegressor without resampling averages KANs that
    # differ only in their seed, fitted in worker processes (pickled, numba in workers).
    from sklearn.ensemble import BaggingRegressor

    X, y = friedman
    ensemble = BaggingRegressor(
        KANRegressor(hidden_layer_sizes=(2,), max_iter=30), n_estimators=3, bootstrap=False, n_jobs=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ensemble.fit(X[:400], y[:400])
    members = ensemble.estimators_
    assert len({member.random_state for member in members}) == 3
    member_predictions = np.stack([member.predict(X[400:]) for member in members])
    assert not np.allclose(member_predictions[0], member_predictions[1])  # the seeds matter
    np.testing.assert_allclose(ensemble.predict(X[400:]), member_predictions.mean(0), rtol=1e-6, atol=1e-6)
    # Averaging never does worse than the members do on average (squared error is convex).
    member_mse = ((member_predictions - y[400:]) ** 2).mean(1)
    assert ((ensemble.predict(X[400:]) - y[400:]) ** 2).mean() <= member_mse.mean() + 1e-9


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), [1.0, 2.0], "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [1.0, 2.0], "infinity"),
        (np.empty((0, 3)), [], "0 sample"),
        (np.array([[1.0, 2.0], [3.0, 4.0]]), [1.0], "inconsistent numbers of samples"),
        (np.array([["a", "b"], ["c", "d"]]), [1.0, 2.0], "column indices '0', '1' hold strings or categories.*OneHotEncoder or OrdinalEncoder"),
        (np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0], "2D array"),
    ],
)
def test_bad_input_gets_sklearns_errors(X, y, message):
    with pytest.raises(ValueError, match=message):
        KANRegressor().fit(X, y)


def test_bad_hyperparameters_are_rejected():
    X, y = np.random.rand(20, 2), np.random.rand(20)
    with pytest.raises(ValueError, match="solver"):
        KANRegressor(solver="sgd").fit(X, y)
    with pytest.raises(ValueError, match="grid_size"):
        KANRegressor(grid_size=0).fit(X, y)


def test_cuda_device_fits_or_raises_a_clear_error():
    X, y = np.random.rand(20, 2), np.random.rand(20)
    reg = KANRegressor(device="cuda", max_iter=2)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            reg.fit(X, y)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert next(reg.module_.parameters()).device.type == "cuda"
    assert reg.predict(X).shape == (20,)


def test_wrong_width_at_predict_and_unfitted(friedman):
    X, y = friedman
    reg = KANRegressor(max_iter=3)
    with pytest.raises(NotFittedError):
        reg.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :5])


def test_failed_fit_leaves_the_fitted_model_untouched(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = KANRegressor(max_iter=5, random_state=0, warm_start=True).fit(X, y)
    before = reg.predict(X[:20])
    state = {k: v.clone() for k, v in reg.module_.state_dict().items()}
    with pytest.raises(ValueError):
        reg.fit(X[:, :4], y)  # wrong width for a warm start
    with pytest.raises(ValueError):
        reg.fit(np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y)
    np.testing.assert_array_equal(reg.predict(X[:20]), before)
    assert all(torch.equal(v, reg.module_.state_dict()[k]) for k, v in state.items())


def test_inputs_far_outside_the_training_range_give_finite_predictions(friedman):
    X, y = friedman
    reg = KANRegressor(random_state=0, max_iter=20).fit(X, y)
    far = np.array([[1e6] * 10, [-1e6] * 10, [1e12] * 10, [0.5] * 10])
    assert np.all(np.isfinite(reg.predict(far)))
    clf = KANClassifier(random_state=0, max_iter=20).fit(X, y > y.mean())
    assert np.all(np.isfinite(clf.predict_proba(far)))


def test_device_auto_resolves_to_an_available_device(friedman):
    X, y = friedman
    reg = KANRegressor(device="auto", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(reg.module_.parameters()).device.type == expected
    assert np.all(np.isfinite(reg.predict(X)))


def test_refine_keeps_predictions_and_warm_start_continues(friedman):
    X, y = friedman
    reg = KANRegressor(random_state=0, grid_size=5, max_iter=30, dtype="float64").fit(X, y)
    before = reg.predict(X)
    reg.refine(10)
    assert reg.module_.layers[0].grid_size == 10
    np.testing.assert_allclose(reg.predict(X), before, atol=1e-8)
    reg.set_params(warm_start=True, max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.module_.layers[0].grid_size == 10


def test_attribution_rows_cover_sorted_data():
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(-1, 1, size=(6000, 2)), axis=0)  # sorted by every column
    y = np.sin(3 * X[:, 0]) + X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = KANRegressor(random_state=0, max_iter=3).fit(X, y)
    rows = reg._attribution_data.numpy()
    assert len(rows) == 4096
    scaled = reg._scale_inputs(X)
    np.testing.assert_allclose(rows.min(0), scaled.min(0), atol=1e-6)
    np.testing.assert_allclose(rows.max(0), scaled.max(0), atol=1e-6)


def test_auto_capacity_follows_rows_per_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 5))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    labels = (y > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = KANRegressor(max_iter=3, random_state=0).fit(X[:300], y[:300])  # 60 rows per feature
        # No early stopping: no competitors (3 epochs of a network lose to the additive one).
        large = KANRegressor(max_iter=3, early_stopping=False, random_state=0).fit(X, y)  # 200 rows per feature
        chunked = KANRegressor(random_state=0).partial_fit(X[:300], y[:300])  # total size unknown
        explicit = KANRegressor(hidden_layer_sizes=(2,), grid_size=4, max_iter=3).fit(X[:300], y[:300])
        classifier_small = KANClassifier(max_iter=3, random_state=0).fit(X[:300], labels[:300])
        classifier_wide = KANClassifier(max_iter=3, random_state=0).fit(X[:300, :2], labels[:300])  # 150 per feature
        # The grid "auto" starts from (grid extension: tests/engine/test_grid_extension.py).
        classifier_large = KANClassifier(max_iter=3, early_stopping=False, random_state=0).fit(X, labels)  # from 500 rows
    # Additive, solved directly: the grid 3 of its ridge, or the finer one of its smoothing
    # candidate (tests/engine/test_least_squares.py).
    assert small.hidden_layer_sizes_ == () and small.grid_size_ in (3, SMOOTHING_GRID)
    assert (large.hidden_layer_sizes_, large.grid_size_) == ((6,), 10)
    assert (chunked.hidden_layer_sizes_, chunked.grid_size_) == ((6,), 10)
    assert (explicit.hidden_layer_sizes_, explicit.grid_size_) == ((2,), 4)
    assert classifier_small.hidden_layer_sizes_ == () and classifier_small.grid_size_ in (5, SMOOTHING_GRID)
    assert (classifier_wide.hidden_layer_sizes_, classifier_wide.grid_size_) == ((5,), 5)
    assert (classifier_large.hidden_layer_sizes_, classifier_large.grid_size_) == ((32,), 4)
    assert large.get_params()["hidden_layer_sizes"] == "auto"
    # From 500 rows the classifier takes minibatch steps of 0.02; below, full-batch steps of 0.05.
    def config(estimator, n_rows):
        return TrainingConfig.from_params(estimator.get_params(), estimator._targets, n_rows, 5)

    large_config, small_config = config(classifier_large, 1000), config(classifier_small, 300)
    assert (large_config.batch_size_for(1000), large_config.learning_rate) == (128, 0.02)
    assert (large_config.batch_size_for(32000), large_config.batch_size_for(10**7)) == (2000, 8192)
    assert (small_config.batch_size_for(300), small_config.learning_rate) == (300, 0.05)
    explicit_rate = {**classifier_large.get_params(), "learning_rate_init": 0.1}
    assert TrainingConfig.from_params(explicit_rate, classifier_large._targets, 1000, 5).learning_rate == 0.1
