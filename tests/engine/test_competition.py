"""Capacity chosen on the validation rows: networks that compete with the default one."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from skkan import KANClassifier, KANRegressor
from skkan._targets import ClassificationTargets, RegressionTargets
from skkan._training import TrainingConfig, _competition

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _ScriptedTrainer:
    """A trainer whose runs return networks with given validation scores."""

    def __init__(self, scores):
        self.scores = list(scores)
        self.runs = []

    def run(self, module, make_optimizer, data, **options):
        module.score = self.scores.pop(0)
        self.runs.append(module)
        return {"module": module, "n_iter": 7, "loss_curve": [1.0] * 7, "validation_scores": [module.score] * 7}

    def evaluate(self, module, validation):
        # Networks that did not come from run() (solved in closed form) score 0.5.
        return module.score if hasattr(module, "score") else 0.5


def _config(n_samples=3000, n_features=4):
    params = KANRegressor().get_params()
    return TrainingConfig.from_params(params, RegressionTargets(np.zeros((1, 1)), np.ones((1, 1)), True), n_samples, n_features)


def _first_result(score):
    module = torch.nn.Linear(1, 1)
    module.score = score
    return {"module": module, "n_iter": 5, "loss_curve": [2.0] * 5, "validation_scores": [score] * 5}


@pytest.mark.parametrize("first, coarse, coarse_wins", [(0.30, 0.35, True), (0.35, 0.30, False), (0.30, 0.30, False)])
def test_the_better_validation_score_wins_and_its_settings_follow(first, coarse, coarse_wins):
    # Without the closed form the additive competitor runs through the trainer too.
    config = replace(_config(), closed_form=False)
    assert config.grid_size == 10 and config.competitors == ((config.hidden_sizes, 5), ((), 10))
    config = replace(config, competitors=config.competitors[:1])
    trainer = _ScriptedTrainer([coarse])
    result, chosen = _competition(
        trainer, config, _first_result(first), 4, None, None, torch.Generator(), False, "fit", torch.device("cpu")
    )
    assert result["module"] is (trainer.runs[0] if coarse_wins else result["module"])
    assert chosen.grid_size == (5 if coarse_wins else 10)
    assert result["module"].score == max(first, coarse)  # a tie keeps the first network
    # Both runs count: epochs, losses and validation scores.
    assert result["n_iter"] == 12
    assert len(result["loss_curve"]) == len(result["validation_scores"]) == 12
    # The competitor is a fresh network of the same widths on the coarser grid.
    assert trainer.runs[0].layers[0].grid_size == 5
    assert [layer.out_features for layer in trainer.runs[0].layers] == [*config.hidden_sizes, 1]


def test_only_the_default_network_with_a_hidden_layer_competes():
    targets = RegressionTargets(np.zeros((1, 1)), np.ones((1, 1)), True)

    def competitors(n_samples=3000, **params):
        return TrainingConfig.from_params(KANRegressor(**params).get_params(), targets, n_samples, 4).competitors

    assert competitors()
    assert not competitors(grid_size=10)  # a grid the user chose
    assert not competitors(hidden_layer_sizes=(6,))  # widths the user chose
    assert not competitors(n_samples=200)  # the additive network of few rows (grid 3)
    # A classifier of two classes: the additive model, solved by penalised logistic
    # regression; of three: none.
    classifier = KANClassifier().get_params()
    binary = TrainingConfig.from_params(classifier, ClassificationTargets(np.array([0, 1])), 3000, 4)
    assert [hidden for hidden, _ in binary.competitors] == [()]
    assert not TrainingConfig.from_params(classifier, ClassificationTargets(np.array([0, 1, 2])), 3000, 4).competitors


@pytest.mark.parametrize("seed", range(2))
def test_default_regressor_keeps_a_network_of_one_of_the_grids(seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (2000, 3))
    y = np.sin(X[:, 0]) * X[:, 1] + 0.5 * rng.randn(2000)
    model = KANRegressor(random_state=seed).fit(X, y)
    # The winner may then be refined by grid extension: 5, 10 or their doublings.
    # (Seeds 0-5 checked, also with OMP_NUM_THREADS=1: 10, 10, 5, 5, 10, 5.)
    assert model.grid_size_ in (5, 10, 20)
    assert model.hidden_layer_sizes_ == (6,)
    assert len(model.loss_curve_) == model.n_iter_ == len(model.validation_scores_)
    # The first network is the one a fixed grid of 10 trains (same rows, same start);
    # the competitor's epochs follow it.
    alone = KANRegressor(grid_size=10, random_state=seed).fit(X, y)
    first = len(alone.validation_scores_)
    np.testing.assert_allclose(model.validation_scores_[:first], alone.validation_scores_, rtol=1e-6)
    assert len(model.validation_scores_) > first
    assert np.all(np.isfinite(model.predict(X)))


@pytest.mark.parametrize("seed", range(3))
def test_on_additive_noisy_data_either_winner_is_close_to_the_truth(seed):
    """On additive data the network and the additive model both fit the truth, and
    the validation rows pick either (seeds 0-5: the additive model for seed 2 only;
    R^2 against the truth 0.92-0.99). An additive winner is solved in closed form: its one validation
    score ends the list and is the best (no grid extension follows)."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (3000, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + rng.randn(3000)  # additive, noise std 1
    model = KANRegressor(random_state=seed).fit(X, y)
    assert model.hidden_layer_sizes_ in ((), (6,))
    if model.hidden_layer_sizes_ == ():
        assert model.validation_scores_[-1] == model.best_validation_score_ == max(model.validation_scores_)
    X_new = rng.uniform(-2, 2, (2000, 3))
    truth = np.sin(X_new[:, 0]) + 0.5 * X_new[:, 1] ** 2
    assert model.score(X_new, truth) > 0.9  # close to the noiseless truth


@pytest.mark.parametrize("seed", range(3))
def test_a_network_beats_the_additive_model_where_inputs_interact(seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (3000, 3))
    y = X[:, 0] * X[:, 1] + 0.1 * rng.randn(3000)
    model = KANRegressor(random_state=seed).fit(X, y)
    assert model.hidden_layer_sizes_ == (6,)


def test_the_additive_competitor_is_solved_in_closed_form():
    config = _config()
    assert ((), 10) in config.competitors and config.closed_form
    trainer = _ScriptedTrainer([0.2])  # the coarse network; the additive one never reaches the trainer
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    from skkan._preprocessing import InputScaler
    from skkan._training import TrainingData

    weight = np.ones(600)
    data = TrainingData(X, torch.as_tensor(X[:, :1] ** 2), weight, InputScaler.fit(X, weight, rng), torch.float64, torch.device("cpu"))
    config = replace(config, dtype=torch.float64)
    result, chosen = _competition(
        trainer, config, _first_result(0.1), 4, data, data, torch.Generator(), False, "fit", torch.device("cpu")
    )
    assert len(trainer.runs) == 1
    assert chosen.hidden_sizes == () and result["module"].layers[0].in_features == 4
    assert result["n_iter"] == 5 + 7 + 1


# ---------------------------------------------------------------- two classes: the average


def _binary_data(seed, n=1500):
    from skkan._preprocessing import InputScaler
    from skkan._training import TrainingData

    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (n, 4))
    labels = (np.sin(X[:, 0]) + X[:, 1] + rng.logistic(size=n) > 0).astype(np.int64)
    weight = np.ones(n)
    scaler = InputScaler.fit(X, weight, rng)
    return X, labels, TrainingData(X, torch.as_tensor(labels), weight, scaler, torch.float64, torch.device("cpu"))


class _OutputsTrainer:
    """The one trainer method the averaging step calls: outputs on the validation rows."""

    def outputs(self, module, data):
        x, target, weight = data.batch()
        with torch.no_grad():
            return module(x), target, weight


def _binary_config(n_samples):
    params = KANClassifier().get_params()
    targets = ClassificationTargets(np.array([0, 1]))
    return replace(TrainingConfig.from_params(params, targets, n_samples, 4), dtype=torch.float64)


def test_an_untrained_network_is_averaged_with_the_additive_model():
    from skkan._training import _averaged_with_additive
    from skkan.nn import KAN

    X, labels, data = _binary_data(0)
    config = _binary_config(len(X))
    network = KAN([4, 6, 1], grid_size=config.grid_size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    network.update_grid(data.batch()[0])
    result = _averaged_with_additive(_OutputsTrainer(), config, {"module": network}, data, data, torch.Generator(), "fit")
    averaged = result["module"]
    assert averaged.widths == [4, 10, 1]
    assert torch.equal(averaged.layers[0].grid, network.layers[0].grid)
    # The added nodes carry the additive logistic fit of sin(x0) + x1, solved on the network's grid.
    x = data.batch()[0]
    with torch.no_grad():
        additive_logit = (2 * averaged(x) - network(x)).numpy().ravel()
    assert np.mean((additive_logit > 0) == labels) > 0.7  # the logistic noise caps it near 0.8


@pytest.mark.parametrize("seed", range(2))
def test_a_network_that_models_an_interaction_is_kept_alone(seed):
    from skkan._preprocessing import InputScaler
    from skkan._training import TrainingData, _averaged_with_additive

    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (2000, 4))
    labels = (X[:, 0] * X[:, 1] + 0.1 * rng.logistic(size=2000) > 0).astype(np.int64)
    model = KANClassifier(hidden_layer_sizes=(6,), random_state=seed).fit(X[:1500], labels[:1500])
    network = model.module_.to(torch.float64)
    scaler = InputScaler(model._x_mean, model._x_scale, model._x_low, model._x_high)
    data, validation = (
        TrainingData(X[rows], torch.as_tensor(labels[rows]), np.ones(len(X[rows])), scaler, torch.float64, torch.device("cpu"))
        for rows in (slice(0, 1500), slice(1500, None))
    )
    config = _binary_config(1500)
    result = _averaged_with_additive(_OutputsTrainer(), config, {"module": network}, data, validation, torch.Generator(), "fit")
    assert result["module"] is network  # the additive model cannot model x0 * x1: the average is clearly worse


@pytest.mark.parametrize("seed", range(2))
def test_default_binary_classifier_keeps_the_network_or_its_average(seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (1500, 4))
    y = (np.sin(X[:, 0]) + X[:, 1] + rng.logistic(size=1500) > 0).astype(int)
    model = KANClassifier(random_state=seed).fit(X, y)
    assert model.hidden_layer_sizes_ in ((32,), (36,))
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(1), 1) and model.score(X, y) > 0.7
