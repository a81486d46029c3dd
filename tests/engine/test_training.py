"""The training loop (skkan._training), partial_fit and bounded memory."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skkan import KANClassifier, KANRegressor
from skkan._optim import make_optimizer
from skkan._preprocessing import InputScaler
from skkan._training import Trainer, TrainingData
from skkan.nn import KAN


@pytest.fixture(scope="module")
def friedman_split():
    X, y = make_friedman1(n_samples=3000, noise=0.3, random_state=0)
    return train_test_split(X, y, random_state=0)


def _trainer(chunk_rows, penalty=None):
    def loss(output, target, weight):
        return (weight * (output - target).square().mean(1)).sum() / weight.sum()

    def objective(module, x, target, weight):
        value = loss(module(x), target, weight)
        return value if penalty is None else value + penalty(module, x, weight)

    return Trainer(
        loss=loss,
        objective=objective,
        penalty=penalty,
        validation_score=lambda *args: 0.0,
        solver="lbfgs",
        batch_size=10**9,
        chunk_rows=chunk_rows,
        grid_eps=0.02,
        tol=0.0,
        n_iter_no_change=5,
    )


def _gradients(trainer, module, data):
    optimizer = make_optimizer("lbfgs", module.parameters(), 1.0)
    value = trainer.closure(module, optimizer, data, None)()
    return float(value), [p.grad.clone() for p in module.parameters() if p.requires_grad]


def test_chunked_closure_gives_the_full_batch_objective_and_gradients():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = np.sin(X[:, :1]) + X[:, 1:2] ** 2
    weight = rng.uniform(0.1, 2.0, size=1000)
    scaler = InputScaler.fit(X, weight, np.random.RandomState(0))
    data = TrainingData(X, torch.as_tensor(y), weight, scaler, torch.float64, torch.device("cpu"))
    module = KAN([3, 4, 1], grid_size=5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full_value, full_grads = _gradients(_trainer(chunk_rows=5000), module, data)
    chunked_value, chunked_grads = _gradients(_trainer(chunk_rows=128), module, data)
    assert chunked_value == pytest.approx(full_value, rel=1e-12)
    for full, chunked in zip(full_grads, chunked_grads):
        np.testing.assert_allclose(chunked.numpy(), full.numpy(), rtol=1e-9, atol=1e-14)


def test_one_partial_fit_pass_is_one_epoch_of_fit(friedman_split):
    X_train, X_test, y_train, _ = friedman_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # partial_fit never holds out validation rows: compare with a fit that does not either.
        one_epoch = KANRegressor(max_iter=1, early_stopping=False, random_state=0).fit(X_train, y_train)
    one_pass = KANRegressor(random_state=0).partial_fit(X_train, y_train)
    np.testing.assert_array_equal(one_pass.predict(X_test), one_epoch.predict(X_test))
    assert one_pass.n_iter_ == 1 and len(one_pass.loss_curve_) == 1


def test_chunked_passes_reach_the_full_fit(friedman_split):
    X_train, X_test, y_train, y_test = friedman_split
    full = KANRegressor(random_state=0).fit(X_train, y_train).score(X_test, y_test)
    model = KANRegressor(random_state=0)
    chunks = np.array_split(np.arange(len(X_train)), 8)
    scaling = None
    for _ in range(30):
        for rows in chunks:
            model.partial_fit(X_train[rows], y_train[rows])
            scaling = scaling or (model._x_mean.copy(), model._x_low.copy())
    # The input scaling is settled by the first chunk.
    np.testing.assert_array_equal(model._x_mean, scaling[0])
    np.testing.assert_array_equal(model._x_low, scaling[1])
    assert model.n_iter_ == 240
    assert model.score(X_test, y_test) > full - 0.01


@pytest.mark.slow
def test_california_chunk_by_chunk_reaches_the_full_fit(california):
    # The big-data issue's check: 30 passes over 8 chunks against one fit on all rows.
    X, y = california
    X_train, X_test, y_train, y_test = train_test_split(X.to_numpy(), y.to_numpy(), test_size=0.2, random_state=0)
    # partial_fit keeps its grid (it has no validation rows to judge a finer one), so
    # the full fit it is held to keeps the same grid too (grid extension: test_grid_extension.py).
    full = KANRegressor(grid_size=10, random_state=0).fit(X_train, y_train).score(X_test, y_test)
    chunks = np.array_split(np.random.default_rng(0).permutation(len(X_train)), 8)
    model = KANRegressor(random_state=0)
    for _ in range(30):
        for rows in chunks:
            model.partial_fit(X_train[rows], y_train[rows])
    assert model.score(X_test, y_test) > full - 0.01


def test_classifier_partial_fit_needs_classes_first_and_keeps_them():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    y = np.where(X[:, 0] > 0.5, "c", np.where(X[:, 1] > 0, "b", "a"))
    model = KANClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X[:100], y[:100])
    first = y[:50] != "c"  # the first chunk may lack a class
    model.partial_fit(X[:50][first], y[:50][first], classes=["a", "b", "c"])
    assert list(model.classes_) == ["a", "b", "c"]
    for _ in range(20):
        model.partial_fit(X, y)
    assert model.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not the same as on the first call"):
        model.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match="classes seen in the first fit"):
        model.partial_fit(X[:3], ["a", "b", "z"])


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_continuing_after_refine_never_leaves_a_worse_training_fit(friedman_split, solver):
    X_train, _, y_train, _ = friedman_split
    X_train, y_train = X_train[:800], y_train[:800]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KANRegressor(grid_size=3, solver=solver, max_iter=30, random_state=0).fit(X_train, y_train)
        errors = []
        for grid_size in (5, 10):
            model.refine(grid_size)
            before = np.mean((model.predict(X_train) - y_train) ** 2)
            model.set_params(warm_start=True, max_iter=20).fit(X_train, y_train)
            errors.append((before, np.mean((model.predict(X_train) - y_train) ** 2)))
    assert model.grid_size_ == 10 and model.get_params()["grid_size"] == 3
    for before, after in errors:
        assert after <= before * (1 + 1e-9)


def test_fit_memory_grows_with_the_batch_not_the_rows():
    # 400,000 rows x 8 float32 are 13 MB; a fit that copied or evaluated all rows at
    # once (float64 copies, full-data grid updates, full-data basis) would peak over
    # 1 GB above the baseline.
    code = textwrap.dedent(
        """
        import resource, warnings
        import numpy as np
        from skkan import KANRegressor
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((400_000, 8)).astype(np.float32)
        y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
        KANRegressor(hidden_layer_sizes=(16,), max_iter=1).fit(X[:3000], y[:3000])
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        model = KANRegressor(hidden_layer_sizes=(16,), max_iter=1, random_state=0).fit(X, y)
        model.predict(X)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth_mb = float(result.stdout.strip().splitlines()[-1])
    assert growth_mb < 350, growth_mb


def test_verbose_prints_lines_off_a_terminal(capsys, friedman_split):
    X_train, _, y_train, _ = friedman_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = KANRegressor(max_iter=3, verbose=True, early_stopping=True, random_state=0)
        reg.fit(X_train[:300], y_train[:300])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Iteration 1, loss = ") and "validation score = " in lines[0]
    # The last line says why training stopped and which epoch's weights were restored.
    best = int(np.argmax(reg.validation_scores_)) + 1
    assert lines[3].startswith("Reached the last epoch allowed (3)")
    assert f"restored the weights of epoch {best} (validation score {max(reg.validation_scores_):.6g})" in lines[3]


def test_verbose_says_why_early_stopping_stopped(capsys, friedman_split):
    X_train, _, y_train, _ = friedman_split
    reg = KANRegressor(
        hidden_layer_sizes=(), max_iter=500, n_iter_no_change=2, tol=1e-2, verbose=True, early_stopping=True, random_state=0
    ).fit(X_train[:300], y_train[:300])
    assert reg.n_iter_ < 500
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"Stopped after epoch {reg.n_iter_}: the validation score did not improve by tol=0.01")
    assert f"restored the weights of epoch {int(np.argmax(reg.validation_scores_)) + 1}" in last


def test_verbose_shows_a_live_bar_where_it_renders(capsys, monkeypatch, friedman_split):
    import skkan._progress

    X_train, _, y_train, _ = friedman_split
    monkeypatch.setattr(skkan._progress, "_interactive", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KANRegressor(hidden_layer_sizes=(2,), max_iter=3, verbose=True, random_state=0)
        model.fit(X_train[:300], y_train[:300])
    captured = capsys.readouterr()
    assert "Iteration" not in captured.out
    assert "3/3" in captured.err and "loss=" in captured.err


def test_partial_fit_passes_report_no_stop_and_warnings_point_at_the_caller(capsys, friedman_split):
    X_train, _, y_train, _ = friedman_split
    reg = KANRegressor(verbose=True, random_state=0)
    for _ in range(2):
        reg.partial_fit(X_train[:200], y_train[:200])
    out = capsys.readouterr().out
    assert "Iteration 2" in out and "Reached the last epoch" not in out and "Stopped" not in out
    with pytest.warns(ConvergenceWarning) as caught:
        KANRegressor(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(X_train[:200], y_train[:200])
    assert caught[0].filename == __file__
