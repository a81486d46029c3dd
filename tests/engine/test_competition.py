"""Capacity chosen on the validation rows: networks that compete with the default one."""

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
        return module.score


def _config(n_samples=3000, n_features=4):
    params = KANRegressor().get_params()
    return TrainingConfig.from_params(params, RegressionTargets(np.zeros((1, 1)), np.ones((1, 1)), True), n_samples, n_features)


def _first_result(score):
    module = torch.nn.Linear(1, 1)
    module.score = score
    return {"module": module, "n_iter": 5, "loss_curve": [2.0] * 5, "validation_scores": [score] * 5}


@pytest.mark.parametrize("first, coarse, coarse_wins", [(0.30, 0.35, True), (0.35, 0.30, False), (0.30, 0.30, False)])
def test_the_better_validation_score_wins_and_its_settings_follow(first, coarse, coarse_wins):
    config = _config()
    assert config.grid_size == 10 and config.competitors == ((config.hidden_sizes, 5),)
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
    classifier = KANClassifier().get_params()
    assert not TrainingConfig.from_params(classifier, ClassificationTargets(np.array([0, 1])), 3000, 4).competitors


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
