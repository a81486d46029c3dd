"""The additive regressor solved in closed form (skkan._least_squares)."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from skkan import KANClassifier, KANRegressor
from skkan._least_squares import (
    _design,
    _smoothing_blocks,
    _solve,
    _solve_smoothing,
    _two_valued,
    fit_additive_least_squares,
    fit_additive_logistic,
)
from skkan._preprocessing import InputScaler
from skkan._training import TrainingData
from skkan.nn import KAN


def _data(X, y, weight=None, scaler=None):
    weight = np.ones(len(X)) if weight is None else weight
    scaler = scaler or InputScaler.fit(X, weight, np.random.RandomState(0))
    targets = torch.as_tensor(y.reshape(len(y), -1), dtype=torch.float64)
    return TrainingData(X, targets, weight, scaler, torch.float64, torch.device("cpu"))


def _layer_on(data, grid_size=4):
    layer = KAN([data.batch()[0].shape[1], 1], grid_size=grid_size, dtype=torch.float64).layers[0]
    x, _, w = data.batch()
    layer.update_grid(x, sample_weight=w)
    return layer


def test_leave_one_out_error_equals_refits_without_each_row():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.sin(X[:, 0]) + X[:, 1] + 0.3 * rng.normal(size=40)
    data = _data(X, y)
    layer = _layer_on(data)
    spline_inputs = torch.ones(3, dtype=torch.bool)
    _, _, alpha, error, _, ratio = _solve(layer, data, spline_inputs, 1.0)
    design = _design(layer, data.batch()[0], spline_inputs).numpy()
    # The base (silu) columns' penalty is ratio times the splines': a ridge on base
    # columns divided by sqrt(ratio).
    design[:, -3:] /= np.sqrt(ratio[0])
    left_out = []
    for row in range(len(y)):
        keep = np.arange(len(y)) != row
        ridge = Ridge(alpha=float(alpha[0])).fit(design[keep], y[keep])
        left_out.append((y[row] - ridge.predict(design[row : row + 1])[0]) ** 2)
    assert error == pytest.approx(np.mean(left_out), rel=1e-6)


def test_the_penalty_ratio_is_the_one_of_least_left_out_error(monkeypatch):
    from skkan import _least_squares

    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.3 * rng.normal(size=120)
    data = _data(X, y)
    layer = _layer_on(data)
    spline_inputs = torch.ones(3, dtype=torch.bool)
    both = _solve(layer, data, spline_inputs, 1.0)
    alone = {}
    for ratio in _least_squares.BASE_PENALTY_RATIOS:
        monkeypatch.setattr(_least_squares, "BASE_PENALTY_RATIOS", np.array([ratio]))
        alone[ratio] = _solve(layer, data, spline_inputs, 1.0)
    assert both[3] == pytest.approx(min(fit[3] for fit in alone.values()), rel=1e-12)
    chosen = alone[float(both[5][0])]
    np.testing.assert_allclose(both[0], chosen[0], rtol=1e-10, atol=1e-12)
    assert len({round(fit[3], 12) for fit in alone.values()}) > 1  # the ratios differ


def test_wide_designs_keep_one_penalty_for_all_weights(monkeypatch):
    from skkan import _least_squares

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] + 0.2 * rng.normal(size=60)
    data = _data(X, y)
    layer = _layer_on(data)
    monkeypatch.setattr(_least_squares, "RATIO_MAX_COLUMNS", 5)
    *_, ratio = _solve(layer, data, torch.ones(3, dtype=torch.bool), 1.0)
    assert ratio.tolist() == [1.0]


def test_a_row_of_weight_k_is_left_out_one_copy_at_a_time():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    y = X[:, 0] ** 2 + 0.2 * rng.normal(size=30)
    weight = rng.integers(0, 4, size=30).astype(float)
    repeated = np.repeat(np.arange(30), weight.astype(int))
    weighted = _data(X, y, weight)
    copies = _data(X[repeated], y[repeated], scaler=weighted._scaler)
    spline_inputs = torch.ones(2, dtype=torch.bool)
    # The same grid for both (quantiles of weighted rows equal those of repeated rows).
    layer = _layer_on(weighted)
    assert torch.allclose(layer.grid, _layer_on(copies).grid)
    first, second = _solve(layer, weighted, spline_inputs, 1.0), _solve(layer, copies, spline_inputs, 1.0)
    np.testing.assert_allclose(first[0], second[0], rtol=1e-8, atol=1e-10)
    assert first[2] == pytest.approx(second[2])
    assert first[3] == pytest.approx(second[3], rel=1e-8)


def test_additive_regressor_is_solved_in_closed_form():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(300, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2]
    model = KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y)
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 1
    assert model.validation_scores_ is None
    X_new = rng.uniform(-2, 2, size=(300, 3))
    assert model.score(X_new, np.sin(2 * X_new[:, 0]) + X_new[:, 1] ** 2 - 0.5 * X_new[:, 2]) > 0.99
    # The fitted network is an ordinary KAN: its training loss is what it predicts.
    assert model.loss_curve_[0] == pytest.approx(np.mean((model.predict(X) - y) ** 2) / np.var(y), rel=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_pure_noise_gives_a_nearly_constant_prediction(seed):
    """Leave-one-out chooses a strong penalty when there is nothing to learn, so the
    curves do not chase the noise (an unpenalised fit of 40 curves would)."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(200, 8)), rng.normal(size=200)
    model = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0).fit(X, y)
    spread = np.std(model.predict(rng.normal(size=(500, 8))))
    assert spread < 0.35 * np.std(y)


def test_two_valued_inputs_act_through_their_base_weight():
    rng = np.random.default_rng(3)
    flag = rng.integers(0, 2, size=500).astype(float)
    X = np.column_stack([rng.normal(size=500), flag])
    y = np.tanh(X[:, 0]) + 2.0 * flag
    assert _two_valued(torch.as_tensor(X), torch.ones(500)).tolist() == [False, True]
    model = KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y)
    layer = model.module_.layers[0]
    assert torch.count_nonzero(layer.coef[0, 1]) == 0
    effect = model.predict(np.array([[0.0, 1.0]]))[0] - model.predict(np.array([[0.0, 0.0]]))[0]
    assert effect == pytest.approx(2.0, abs=0.02)


def test_multi_output_targets_get_a_penalty_each():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    Y = np.column_stack([X[:, 0] ** 2, rng.normal(size=300)])  # one smooth, one pure noise
    model = KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X, Y)
    prediction = model.predict(rng.normal(size=(200, 2)))
    assert prediction.shape == (200, 2)
    assert np.std(prediction[:, 1]) < 0.35 < np.std(prediction[:, 0])


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@pytest.mark.parametrize(
    "params",
    [
        {"early_stopping": True},
        {"lamb": 1e-3},
        {"hidden_layer_sizes": (2,)},
    ],
    ids=["early_stopping", "sparsity_penalty", "hidden_layer"],
)
def test_the_solver_trains_when_asked_for_what_needs_it(params):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    model = KANRegressor(**{"hidden_layer_sizes": (), "max_iter": 30, "random_state": 0, **params}).fit(X, y)
    assert model.n_iter_ > 1


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_warm_start_continues_the_closed_form_solution_with_the_solver():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    model = KANRegressor(hidden_layer_sizes=(), warm_start=True, max_iter=5, random_state=0).fit(X, y)
    assert model.n_iter_ == 1
    model.fit(X, y)
    assert model.n_iter_ > 1


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_a_design_too_wide_for_the_closed_form_is_trained_by_the_solver(monkeypatch):
    import skkan._least_squares

    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 6))
    y = X[:, 0] ** 2 + X[:, 1]
    # Grid 3 of cubic splines: 6 * (3 + 3) + 6 = 42 columns.
    monkeypatch.setattr(skkan._least_squares, "MAX_COLUMNS", 41)
    wide = KANRegressor(hidden_layer_sizes=(), max_iter=20, random_state=0).fit(X, y)
    assert wide.n_iter_ > 1
    monkeypatch.setattr(skkan._least_squares, "MAX_COLUMNS", 42)
    assert KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y).n_iter_ == 1


@pytest.mark.parametrize(
    "X, weight",
    [
        (np.ones((50, 2)), None),  # every input constant
        (np.random.default_rng(8).normal(size=(50, 2)), np.r_[1.0, np.zeros(49)]),  # one row of positive weight
    ],
    ids=["constant_inputs", "one_weighted_row"],
)
def test_a_design_without_variation_predicts_the_weighted_mean(X, weight):
    y = np.random.default_rng(9).normal(size=50)
    model = KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X, y, sample_weight=weight)
    expected = np.average(y, weights=weight)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- logistic (two classes)


def _binary_data(X, y, weight=None, scaler=None):
    weight = np.ones(len(X)) if weight is None else weight
    scaler = scaler or InputScaler.fit(X, weight, np.random.RandomState(0))
    targets = torch.as_tensor(y.astype(np.int64))
    return TrainingData(X, targets, weight, scaler, torch.float64, torch.device("cpu"))


@torch.no_grad()
def _fit_logistic(data, n_outputs=1, grid_size=4, grid_chosen=False):
    module = KAN([data.batch()[0].shape[1], n_outputs], grid_size=grid_size, dtype=torch.float64)
    fit = fit_additive_logistic(
        module, data, grid_size, 0.02, torch.Generator().manual_seed(0), 10**6, grid_chosen=grid_chosen
    )
    return module, fit


def _block_balance(design, gradient, blocks):
    """Per penalised block, the multiple ``lambda`` of ``penalty @ beta`` that best balances
    ``gradient`` there, and the largest imbalance left relative to the gradient's size."""
    multiples, worst = [], 0.0
    for columns, penalty, _, beta in blocks:
        direction = penalty @ beta
        multiple = -float(direction @ gradient[columns]) / float(direction @ direction)
        multiples.append(multiple)
        worst = max(worst, np.max(np.abs(gradient[columns] + multiple * direction)))
    return np.array(multiples), worst


def _additive_labels(seed, n=400):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    logit = 2 * np.sin(1.5 * X[:, 0]) + X[:, 1]
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int), logit


def test_logistic_fit_is_the_penalised_optimum_and_the_layer_computes_its_logits(monkeypatch):
    from skkan import _least_squares

    monkeypatch.setattr(_least_squares, "SMOOTHING_MAX_COLUMNS", 0)  # the ridge candidate alone
    X, y, _ = _additive_labels(0)
    data = _binary_data(X, y)
    module, fit = _fit_logistic(data)
    assert fit.smoothing_penalties is None
    layer = module.layers[0]
    x, _, weight = data.batch()
    spline_inputs = ~_two_valued(x, weight)
    weights = torch.cat([layer.coef[0][spline_inputs].reshape(-1), layer.scale_base[0]]).detach().numpy()
    design = _design(layer, x, spline_inputs).numpy()
    logit = design @ weights + float(layer.bias[0])
    np.testing.assert_allclose(module(x)[:, 0].detach().numpy(), logit, rtol=1e-9, atol=1e-9)
    # Stationary: the cross-entropy's gradient balances the ridge penalty (the
    # intercept is free: its gradient is zero).
    residual = 1 / (1 + np.exp(-logit)) - y
    gradient = design.T @ residual + fit.alpha[0] * weights
    assert abs(residual.sum()) < 1e-6 * len(y)
    np.testing.assert_allclose(gradient, 0, atol=1e-5 * len(y))
    assert fit.method == "penalised logistic regression"
    assert fit.training_loss == pytest.approx(np.mean(np.logaddexp(0, logit) - y * logit), rel=1e-9)


def test_logistic_fit_counts_a_row_of_weight_k_as_k_rows():
    X, y, _ = _additive_labels(1, n=150)
    weight = np.random.default_rng(1).integers(0, 4, size=150).astype(float)
    repeated = np.repeat(np.arange(150), weight.astype(int))
    weighted = _binary_data(X, y, weight)
    copies = _binary_data(X[repeated], y[repeated], scaler=weighted._scaler)
    first, first_fit = _fit_logistic(weighted)
    second, second_fit = _fit_logistic(copies)
    assert first_fit.alpha[0] == pytest.approx(second_fit.alpha[0], rel=1e-9)
    x = weighted.batch()[0]
    np.testing.assert_allclose(first(x).detach().numpy(), second(x).detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_logistic_fit_of_labels_without_signal_is_nearly_constant(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 5))
    y = (rng.uniform(size=300) < 0.3).astype(int)
    module, _ = _fit_logistic(_binary_data(X, y))
    probability = torch.sigmoid(module(_binary_data(X, y).batch()[0])[:, 0]).detach().numpy()
    # The labels' own spread is 0.46; 12 seeds checked, the largest spread 0.053.
    assert probability.std() < 0.1


@pytest.mark.parametrize("seed", range(3))
def test_logistic_fit_recovers_an_additive_law_nearly_as_well_as_the_truth(seed):
    X, y, logit = _additive_labels(seed, n=2000)
    module, _ = _fit_logistic(_binary_data(X[:1000], y[:1000]))
    scaler = InputScaler.fit(X[:1000], np.ones(1000), np.random.RandomState(0))
    data = _binary_data(X[1000:], y[1000:], scaler=scaler)
    fitted = module(data.batch()[0])[:, 0].detach().numpy()
    held_out = y[1000:]
    loss = np.mean(np.logaddexp(0, fitted) - held_out * fitted)
    oracle = np.mean(np.logaddexp(0, logit[1000:]) - held_out * logit[1000:])
    assert loss < oracle + 0.02


def test_logistic_fit_is_for_one_output_only():
    X, y, _ = _additive_labels(0, n=100)
    module, fit = _fit_logistic(_binary_data(X, y), n_outputs=3)
    assert fit is None


def test_binary_default_classifier_lets_the_penalised_additive_model_compete(capsys):
    X, y, _ = _additive_labels(0, n=1200)
    KANClassifier(random_state=0, verbose=1, max_iter=30).fit(X, y)
    assert "penalised logistic regression" in capsys.readouterr().out
    # Three classes: no such competitor.
    three = np.digitize(X[:, 0] + X[:, 1], [-1, 1])
    KANClassifier(random_state=0, verbose=1, max_iter=30).fit(X, three)
    assert "penalised logistic regression" not in capsys.readouterr().out


def test_additive_binary_classifier_is_solved_by_penalised_logistic_regression(recwarn):
    X, y, logit = _additive_labels(3, n=600)
    first = KANClassifier(hidden_layer_sizes=(), random_state=0).fit(X, y)
    assert first.n_iter_ == 1 and len(first.loss_curve_) == 1 and first.validation_scores_ is None
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]
    # Nothing depends on the seed, and the training loss is the fitted model's log-loss.
    second = KANClassifier(hidden_layer_sizes=(), random_state=1).fit(X, y)
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X), rtol=1e-6, atol=1e-7)
    probability = first.predict_proba(X)[:, 1]
    log_loss = -np.mean(y * np.log(probability) + (1 - y) * np.log(1 - probability))
    assert first.loss_curve_[0] == pytest.approx(log_loss, rel=1e-3)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@pytest.mark.parametrize("params", [{"early_stopping": True}, {"lamb": 1e-3}, {"classes": 3}], ids=str)
def test_the_classifier_solver_trains_what_has_no_closed_form(params):
    X, y, _ = _additive_labels(4, n=600)
    if params.pop("classes", 2) == 3:
        y = np.digitize(X[:, 0] + X[:, 1], [-1, 1])
    model = KANClassifier(**{"hidden_layer_sizes": (), "max_iter": 20, "random_state": 0, **params}).fit(X, y)
    assert model.n_iter_ > 1


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_a_binary_design_too_large_to_hold_is_trained_by_the_solver(monkeypatch):
    import skkan._least_squares

    X, y, _ = _additive_labels(5, n=300)
    monkeypatch.setattr(skkan._least_squares, "MAX_LOGISTIC_FLOATS", 1000)
    model = KANClassifier(hidden_layer_sizes=(), max_iter=20, random_state=0).fit(X, y)
    assert model.n_iter_ > 1
    assert model.score(X, y) > 0.6


# ---------------------------------------------------------------- a smoothing penalty per input


def _smooth_data(seed, n=300):
    """A wiggly input, an irrelevant one and a straight one."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    return X, np.sin(3 * X[:, 0]) + 0.5 * X[:, 2] + 0.2 * rng.normal(size=n)


def _spline_blocks(layer, spline_inputs, weights):
    """``(columns, penalty, rank, weights)`` of the spline inputs' blocks of :func:`_design`."""
    blocks = _smoothing_blocks(int(spline_inputs.sum()), layer.coef.shape[-1], layer.in_features)[:-1]
    return [(columns, penalty, rank, weights[columns]) for columns, penalty, rank in blocks]


@pytest.mark.parametrize("seed", range(3))
def test_smoothing_penalties_follow_each_inputs_smoothness(seed):
    X, y = _smooth_data(seed)
    data = _data(X, y)
    layer = _layer_on(data, grid_size=20)
    spline_inputs = torch.ones(3, dtype=torch.bool)
    weights, _, penalties, _, _ = _solve_smoothing(layer, data, spline_inputs, 1.0)
    wiggly, irrelevant, straight = penalties[0, :3]
    # Straight lines are not penalised, so a straight or absent effect takes a penalty
    # far above the wiggly input's.
    assert irrelevant > 100 * wiggly and straight > 100 * wiggly
    # The fit is the penalised optimum for those penalties: on every input's
    # coefficients the data's gradient is a multiple of that input's own penalty.
    x = data.batch()[0]
    design = _design(layer, x, spline_inputs).numpy()
    design -= design.mean(axis=0)
    gradient = design.T @ (design @ weights[:, 0] - (y - y.mean()))
    multiples, worst = _block_balance(design, gradient, _spline_blocks(layer, spline_inputs, weights[:, 0]))
    assert np.all(multiples > 0)
    assert worst < 1e-6 * np.max(np.abs(design.T @ (y - y.mean())))


def test_smoothing_left_out_error_equals_refits_without_each_row():
    X, y = _smooth_data(0, n=60)
    data = _data(X, y)
    layer = _layer_on(data, grid_size=8)
    spline_inputs = torch.ones(3, dtype=torch.bool)
    _, _, penalties, error, _ = _solve_smoothing(layer, data, spline_inputs, 1.0)
    design = _design(layer, data.batch()[0], spline_inputs).numpy()
    centred = design - design.mean(axis=0)
    scale = np.trace(centred.T @ centred) / design.shape[1]
    penalty = 1e-10 * scale * np.eye(design.shape[1])
    for (columns, block, _), value in zip(_smoothing_blocks(3, layer.coef.shape[-1], 3), penalties[0]):
        penalty[columns, columns] += value * scale * block
    left_out = []
    for row in range(len(y)):
        keep = np.arange(len(y)) != row
        mean_design, mean_y = design[keep].mean(axis=0), y[keep].mean()
        kept = design[keep] - mean_design
        beta = np.linalg.solve(kept.T @ kept + penalty, kept.T @ (y[keep] - mean_y))
        left_out.append((y[row] - mean_y - (design[row] - mean_design) @ beta) ** 2)
    assert error == pytest.approx(np.mean(left_out), rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_the_candidate_of_lower_left_out_error_is_kept(seed):
    from skkan import _least_squares

    rng = np.random.default_rng(seed)
    smooth_X, smooth_y = _smooth_data(seed)
    # Levels per value of a few-valued input.
    stepped_X = rng.integers(0, 6, size=(300, 2)).astype(float)
    stepped_y = np.array([0.0, 3.0, -2.0, 2.5, -1.0, 1.0])[stepped_X[:, 0].astype(int)] + 0.1 * rng.normal(size=300)
    kept = []
    for X, y in ((smooth_X, smooth_y), (stepped_X, stepped_y)):
        data = _data(X, y)
        spline_inputs = ~_two_valued(data.batch()[0], data.batch()[2])
        layer = _layer_on(data, grid_size=5)
        ridge_error = _solve(layer, data, spline_inputs, 1.0)[3]
        smoothing_error = _solve_smoothing(layer, data, spline_inputs, 1.0)[3]
        module = KAN([X.shape[1], 1], grid_size=5, dtype=torch.float64)
        fit = fit_additive_least_squares(module, data, [5], 0.02, torch.Generator().manual_seed(0), 10**6)
        assert (fit.smoothing_penalties is not None) == (smoothing_error < ridge_error)
        kept.append(fit.smoothing_penalties is not None)
    assert kept[0]  # a smooth law is the smoothing candidate's
    # With the grid the fit's to choose, the smoothing candidate's grid is finer.
    smooth_fit = fit_additive_least_squares(
        KAN([3, 1], grid_size=5, dtype=torch.float64), _data(smooth_X, smooth_y), [5], 0.02,
        torch.Generator().manual_seed(0), 10**6, grid_chosen=True,
    )
    assert smooth_fit.smoothing_penalties is not None and smooth_fit.grid_size == _least_squares.SMOOTHING_GRID


def test_the_smoothing_grid_is_the_users_unless_the_fit_chooses_it(monkeypatch):
    from skkan import _least_squares
    from skkan._least_squares import smoothing_grid_for

    rows = 10**6
    assert smoothing_grid_for(3, 4, 4, 3, False, rows) == 3
    assert smoothing_grid_for(3, 4, 4, 3, True, rows) == _least_squares.SMOOTHING_GRID
    assert smoothing_grid_for(30, 4, 4, 3, True, rows) == 30
    # 40 inputs of 23 coefficients are 960 columns; 60 inputs on 20 intervals are too
    # wide, on 10 (780 columns) not.
    assert smoothing_grid_for(3, 40, 40, 3, True, rows) == 20
    assert smoothing_grid_for(3, 60, 60, 3, True, rows) == 10
    assert smoothing_grid_for(5, 400, 400, 3, True, rows) is None
    # No more columns than rows: 16 inputs on 10 intervals are 224 columns, on 5 144.
    assert smoothing_grid_for(3, 16, 16, 3, True, 200) == 5
    assert smoothing_grid_for(3, 16, 16, 3, False, 120) == 3  # 112 columns
    assert smoothing_grid_for(3, 16, 16, 3, False, 100) is None


@pytest.mark.parametrize("seed", range(3))
def test_logistic_smoothing_is_the_penalised_optimum_of_its_penalties(seed):
    X, y, _ = _additive_labels(seed, n=1500)
    data = _binary_data(X, y)
    module, fit = _fit_logistic(data, grid_chosen=True)
    assert fit.smoothing_penalties is not None and fit.grid_size == 20
    layer = module.layers[0]
    x = data.batch()[0]
    spline_inputs = torch.ones(3, dtype=torch.bool)
    weights = torch.cat([layer.coef[0].reshape(-1), layer.scale_base[0]]).detach().numpy()
    design = _design(layer, x, spline_inputs).numpy()
    logit = module(x)[:, 0].detach().numpy()
    residual = 1 / (1 + np.exp(-logit)) - y
    assert abs(residual.sum()) < 1e-6 * len(y)
    gradient = design.T @ residual
    multiples, worst = _block_balance(design, gradient, _spline_blocks(layer, spline_inputs, weights))
    assert np.all(multiples > 0)
    assert worst < 1e-4 * np.max(np.abs(design.T @ (y - y.mean())))
    assert fit.training_loss == pytest.approx(np.mean(np.logaddexp(0, logit) - y * logit), rel=1e-6)
