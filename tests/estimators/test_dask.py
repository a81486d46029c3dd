"""Sweeps on a Dask cluster through joblib's "dask" backend (the `dask` extra)."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skkan import KANPruner, KANRegressor

# Without the dask extra (pip install ".[test]" alone) this module is skipped, not an error.
distributed = pytest.importorskip("distributed")
Client, LocalCluster = distributed.Client, distributed.LocalCluster


def test_grid_search_on_a_dask_cluster_matches_the_local_run():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 4))
    y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    search = GridSearchCV(
        make_pipeline(
            KANPruner(KANRegressor(lamb=1e-3, max_iter=30, random_state=0)),
            KANRegressor(max_iter=30, random_state=0),
        ),
        {"kanregressor__grid_size": [3, 5], "kanregressor__spline_order": [2, 3]},
        cv=2,
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = search.fit(X, y).cv_results_["mean_test_score"]
        # Worker processes, as on a real cluster: estimators and results are pickled.
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with Client(cluster), joblib.parallel_backend("dask"):
                on_dask = search.fit(X, y).cv_results_["mean_test_score"]
    assert np.all(np.isfinite(on_dask))
    np.testing.assert_allclose(on_dask, local, rtol=1e-6)
    assert search.best_estimator_.predict(X).shape == (300,)


def test_incremental_streams_dask_blocks_through_partial_fit_on_a_cluster():
    dask_array = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    # Blocks of a dask array are generated on the workers; only the model travels.
    X = dask_array.random.RandomState(0).uniform(-1, 1, size=(200_000, 3), chunks=(25_000, 3)).astype("float32")
    y = dask_array.sin(3 * X[:, 0]) + X[:, 1] * X[:, 2]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster):
            model = wrappers.Incremental(KANRegressor(hidden_layer_sizes=(16,), random_state=0), shuffle_blocks=True)
            for _ in range(2):
                model.partial_fit(X, y)
            # dask-ml's own r2_score breaks on this dask version's unknown chunk sizes.
            X_test, y_test = X[:20_000].compute(), y[:20_000].compute()
            score = r2_score(y_test, model.predict(X_test))
    fitted = model.estimator_
    assert fitted.n_iter_ == 2 * 8  # one pass per block, block by block
    assert score > 0.9
