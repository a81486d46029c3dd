"""What distinguishes regression from classification, in one object per task.

A target object is fitted on ``y`` once (:meth:`fit`, a class method) and then owns
everything the estimators, the training loop and the formulas need to know about the
task: how ``y`` becomes the network's targets (:meth:`encode`, :meth:`tensor`), the
training loss and the validation score, the labels to stratify a split on, the
``"auto"`` defaults that depend on the task, and how network outputs map back to the
user's units and to formulas. Fitted target objects are plain values (numpy arrays,
python scalars), so they save as data (:meth:`to_state`).
"""

import numpy as np
import torch

from ._preprocessing import weighted_mean_std

__all__ = ["ClassificationTargets", "RegressionTargets", "target_type_from_state"]

# Adam's step size of learning_rate_init="auto" for regression.
_AUTO_LEARNING_RATE = 0.03
# Rows per Adam step of batch_size="auto": 2048, growing to 8192 on large data.
_AUTO_BATCH = 2048
_AUTO_BATCH_MAX = 8192
# Training rows per feature from which "auto" gives a hidden layer.
_ROWS_PER_FEATURE = 100
# grid_size="auto" with a hidden layer: a network on this grid, trained from its own
# start, competes with the one on 10 intervals on the validation rows. Chosen on the
# development half of benchmarks/tables.py (3 folds), where the noisy few-column tables
# trailed the MLP by 0.011-0.022 R^2: workinghours +0.030, bwages +0.003, computers
# +0.003, gss_vocab +0.001, txhousing -0.002, the others equal (additive there). A
# grid of 5 alone (with extension) gained more on bwages (+0.012) but lost 0.010 on
# computers, where extending from 5 intervals stalls.
_COARSE_GRID = 5

# The classifier's "auto" defaults, chosen on the classification sets of
# benchmarks/defaults.py (iris, wine, breast_cancer, digits, make_classification,
# moons): from 500 training rows, one hidden layer of 32 nodes on a grid of 4,
# minibatches of n // 16 rows (at least 128) and a step of 0.02; below, full-batch
# steps of 0.05 and the capacity by rows per feature (more capacity or smaller steps
# there lose accuracy on wine).
_MINIBATCH_ROWS = 500
_MINIBATCH_WIDTH = 32
_MINIBATCH_GRID = 4
_MIN_BATCH = 128
_MINIBATCH_LEARNING_RATE = 0.02
_FULL_BATCH_LEARNING_RATE = 0.05


def _weighted_mean(per_sample, weight):
    return (weight * per_sample).sum() / weight.sum()


class RegressionTargets:
    """Standardised numeric targets, one network output per target column.

    Parameters
    ----------
    mean, scale : ndarray of shape (1, n_outputs)
        Weighted mean and standard deviation of ``y`` in the fit.
    one_dimensional : bool
        Whether ``y`` was 1-d (predictions and formulas are then not lists).
    """

    multi_output = True
    y_numeric = True
    #: A validation plateau divides Adam's step by 5 before training stops, as without
    #: validation: the smaller step still adds R^2 on clean data (California Housing
    #: +0.005 in benchmarks/defaults.py).
    stop_at_first_validation_plateau = False
    #: No running average of the weights in validation runs: it cost R^2 on the
    #: development half of benchmarks/tables.py (ames 0.79 -> 0.73-0.75).
    average_weights = False
    #: The default network is averaged with its additive competitor instead of
    #: competing with it (see :func:`skkan._training.averages_with_additive`).
    averages_with_additive = False

    def __init__(self, mean, scale, one_dimensional):
        self.mean, self.scale, self.one_dimensional = mean, scale, bool(one_dimensional)

    @classmethod
    def fit(cls, y, sample_weight, classes=None):
        """Targets standardised by the weighted mean and spread of ``y``."""
        y = np.asarray(y, dtype=np.float64)
        mean, scale = weighted_mean_std(y.reshape(-1, 1) if y.ndim == 1 else y, sample_weight)
        return cls(mean, scale, y.ndim == 1)

    @property
    def n_outputs(self):
        return int(np.shape(self.mean)[-1])

    # ------------------------------------------------------------------ training
    def encode(self, y):
        """``y`` standardised, shape (n_samples, n_outputs)."""
        y = np.asarray(y, dtype=np.float64)
        y2d = y.reshape(-1, 1) if y.ndim == 1 else y
        if y2d.shape[1] != self.n_outputs:
            raise ValueError(f"y has {y2d.shape[1]} outputs, but the fitted model has {self.n_outputs}.")
        return (y2d - self.mean) / self.scale

    def tensor(self, encoded, device, dtype):
        return torch.as_tensor(np.ascontiguousarray(encoded), dtype=dtype, device=device)

    def loss(self, output, target, weight):
        """Weighted mean squared error of a batch (standardised units)."""
        return _weighted_mean(self.sample_losses(output, target), weight)

    def sample_losses(self, output, target):
        """Squared error of every row, averaged over outputs (standardised units)."""
        return (output - target).square().mean(dim=1)

    def score(self, output, target, weight):
        """Weighted R^2 averaged over outputs (the validation score)."""
        residual = (weight[:, None] * (output - target).square()).sum(0)
        mean = (weight[:, None] * target).sum(0) / weight.sum()
        total = (weight[:, None] * (target - mean).square()).sum(0)
        r2 = torch.where(total > 0, 1 - residual / total.clamp_min(1e-30), torch.zeros_like(total))
        return float(r2.mean())

    def output_factor(self, output, target, weight):
        """None: regression outputs are not rescaled after early stopping."""
        return None

    def stratify(self, encoded):
        return None

    @property
    def solves_additive_directly(self):
        """The squared loss makes a network without a hidden layer linear least squares,
        solved in closed form (:meth:`solve_additive`)."""
        return True

    @staticmethod
    def solve_additive(module, data, grid_sizes, grid_eps, generator, grid_rows, adapt_grids=True, grid_chosen=False):
        """Solve the additive ``module`` in closed form (see
        :func:`skkan._least_squares.fit_additive_least_squares`); None when too wide."""
        from ._least_squares import fit_additive_least_squares

        return fit_additive_least_squares(
            module, data, grid_sizes, grid_eps, generator, grid_rows, adapt_grids, grid_chosen
        )

    # ------------------------------------------------------------------ "auto" defaults
    @staticmethod
    def auto_capacity(n_samples, n_features):
        """``(hidden_layer_sizes, grid_size)`` of ``"auto"``: a hidden layer from 100 rows per feature."""
        if n_samples >= _ROWS_PER_FEATURE * n_features:
            return (6,), 10
        return (), 3

    @staticmethod
    def auto_competitors(hidden_sizes, grid_size):
        """Networks ``(hidden_sizes, grid_size)`` that compete with the ``"auto"`` one on
        the validation rows: the same widths on a coarser grid, and the additive
        model (solved in closed form on the training rows, so it costs little).
        Development half of benchmarks/tables.py, 5 folds, the additive competitor
        added: R^2 +0.015 txhousing, +0.008 wage, +0.003 workinghours, -0.001
        computers and gss_vocab, the others unchanged."""
        coarse = ((hidden_sizes, _COARSE_GRID),) if grid_size > _COARSE_GRID else ()
        return coarse + (((), grid_size),)

    @staticmethod
    def auto_batch_size(n_samples):
        return min(n_samples, max(_AUTO_BATCH, min(_AUTO_BATCH_MAX, n_samples // 128)))

    @staticmethod
    def auto_learning_rate(n_samples):
        return _AUTO_LEARNING_RATE

    # ------------------------------------------------------------------ back to the user
    def to_user(self, output):
        """Network outputs as predictions in the units of ``y``."""
        values = output * self.scale + self.mean
        return values.ravel() if self.one_dimensional else values

    def output_transform(self):
        """``(scale, offset)`` mapping network outputs to formula outputs."""
        return np.asarray(self.scale, dtype=np.float64).ravel(), np.asarray(self.mean, dtype=np.float64).ravel()

    def package(self, expressions):
        """The public formula from one expression per output: one, or a list."""
        return expressions[0] if self.one_dimensional else list(expressions)

    def unpackage(self, formula):
        expressions = [formula] if self.one_dimensional and not isinstance(formula, (list, tuple)) else list(formula)
        if len(expressions) != self.n_outputs:
            raise ValueError(f"Expected {self.n_outputs} expression(s), got {len(expressions)}.")
        return expressions

    def shape(self, values):
        """Formula values (n_samples, n_outputs) shaped as ``predict`` gives them."""
        return values.ravel() if self.one_dimensional else values

    def continued(self, y):
        """The targets of a fit that continues on ``y`` (same scaling; ``y``'s shape)."""
        return type(self)(self.mean, self.scale, np.ndim(y) == 1)

    def fitted_attributes(self):
        return {"n_outputs_": self.n_outputs}

    def output_names(self):
        return ["y"] if self.n_outputs == 1 else [f"y{j}" for j in range(self.n_outputs)]

    def to_state(self):
        return {"kind": "regression", "mean": self.mean, "scale": self.scale, "one_dimensional": self.one_dimensional}

    @classmethod
    def from_state(cls, state):
        return cls(np.asarray(state["mean"]), np.asarray(state["scale"]), state["one_dimensional"])


class ClassificationTargets:
    """Class labels, encoded as indices into ``classes`` (sorted, any type).

    The network has one output per class, or one logit for two classes.
    """

    multi_output = False
    y_numeric = False
    #: With validation rows, training stops at the first plateau of the validation
    #: log-loss: a second phase at a smaller step never lowered it on the development
    #: tables of benchmarks/tables.py (the same scores, a third more time).
    stop_at_first_validation_plateau = True
    #: Validation runs average the weights over the last epoch of minibatch steps
    #: (see skkan._training._AVERAGE_EPOCHS).
    average_weights = True

    @property
    def averages_with_additive(self):
        """Two classes: the default network's logits are averaged with those of its
        additive competitor unless the network alone is significantly better on the
        validation rows (see :meth:`auto_competitors`)."""
        return self.n_outputs == 1

    def __init__(self, classes):
        self.classes = classes

    @classmethod
    def fit(cls, y, sample_weight, classes=None):
        """The classes of ``y`` (labels with positive weight), or ``classes`` when given."""
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(classes)
            unseen = np.setdiff1d(np.unique(y), classes)
            if unseen.size:
                raise ValueError(f"y holds labels {list(unseen)} that are not in classes={list(classes)}.")
        else:
            classes = LabelEncoder().fit(y[sample_weight > 0] if np.any(sample_weight == 0) else y).classes_
        if len(classes) < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes[0]!r}."
            )
        return cls(classes)

    @property
    def n_outputs(self):
        return 1 if len(self.classes) == 2 else len(self.classes)

    # ------------------------------------------------------------------ training
    def encode(self, y):
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
        unseen = np.setdiff1d(np.unique(y), self.classes)
        if unseen.size:
            raise ValueError(
                f"Training can only continue with the classes seen in the first fit "
                f"{list(self.classes)}; y has new labels {list(unseen)}."
            )
        return np.searchsorted(self.classes, y)

    def tensor(self, encoded, device, dtype):
        return torch.as_tensor(np.ascontiguousarray(encoded), dtype=torch.long, device=device)

    def loss(self, output, target, weight):
        """Weighted mean (sigmoid or softmax) cross-entropy of a batch."""
        return _weighted_mean(self.sample_losses(output, target), weight)

    def sample_losses(self, output, target):
        """(Sigmoid or softmax) cross-entropy of every row."""
        if output.shape[1] == 1:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                output[:, 0], target.to(output.dtype), reduction="none"
            )
        return torch.nn.functional.cross_entropy(output, target, reduction="none")

    def score(self, output, target, weight):
        """Minus the weighted log-loss of the best-scaled outputs (the validation score).

        Early stopping on the log-loss, not on the accuracy, stops before the
        ranking of noisy data degrades (the accuracy keeps rising or stays flat while
        the log-loss of held-out rows grows). The outputs are first scaled by the
        factor that minimises the log-loss (temperature scaling), so that the score
        measures how well the classes are told apart, not how confident the
        probabilities are: the growing confidence of a clean problem that is still
        improving no longer stops it (benchmarks/defaults.py, digits: stopped after
        9 epochs of 38 on raw log-loss), and :meth:`output_factor` then calibrates it.
        """
        return -self.calibrated_loss(output, target, weight)[0]

    def output_factor(self, output, target, weight):
        """The factor of the network's outputs that calibrates them on held-out rows."""
        return self.calibrated_loss(output, target, weight)[1]

    def calibrated_loss(self, output, target, weight):
        """``(log-loss, factor)``: the least weighted log-loss of ``factor * output``.

        The log-loss of scaled logits is convex in the factor; a bounded search over
        its logarithm finds it in about 20 evaluations. Factors are at most 1 (from
        1/55): outputs are softened, never sharpened, since on held-out rows that
        are all classified right the best factor is unbounded (a make_classification
        fit then scaled its logits by 55 and reached a test log-loss of 1.02).

        Parameters
        ----------
        output : torch.Tensor of shape (n_rows, n_outputs)
            Network outputs (logits).
        target : torch.Tensor of shape (n_rows,)
            Encoded classes.
        weight : torch.Tensor of shape (n_rows,)

        Returns
        -------
        loss : float
        factor : float in [exp(-4), 1]
        """
        from scipy.optimize import minimize_scalar

        output, weight = output.double(), weight.double()

        def loss_at(log_factor):
            return float(self.loss(output * float(np.exp(log_factor)), target, weight))

        best = minimize_scalar(loss_at, bounds=(-4.0, 0.0), method="bounded", options={"xatol": 1e-3})
        return float(best.fun), float(np.exp(best.x))

    def stratify(self, encoded):
        counts = np.bincount(encoded)
        return encoded if counts[counts > 0].min() >= 2 else None

    # ------------------------------------------------------------------ "auto" defaults
    @staticmethod
    def auto_capacity(n_samples, n_features):
        if n_samples >= _MINIBATCH_ROWS:
            return (_MINIBATCH_WIDTH,), _MINIBATCH_GRID
        if n_samples >= _ROWS_PER_FEATURE * n_features:
            return (min(2 * n_features + 1, 16),), 5
        return (), 5

    @property
    def solves_additive_directly(self):
        """With two classes the additive logit is linear in the weights and the
        penalised cross-entropy convex: :meth:`solve_additive` minimises it by Newton's
        method. More classes are trained by the solver."""
        return self.n_outputs == 1

    @staticmethod
    def solve_additive(module, data, grid_sizes, grid_eps, generator, grid_rows, adapt_grids=True, grid_chosen=False):
        """Solve the additive ``module`` of two classes (see
        :func:`skkan._least_squares.fit_additive_logistic`: its ridge candidate on the
        first grid); None for more classes or a design too large."""
        from ._least_squares import fit_additive_logistic

        return fit_additive_logistic(
            module, data, grid_sizes[0], grid_eps, generator, grid_rows, adapt_grids, grid_chosen
        )

    def auto_competitors(self, hidden_sizes, grid_size):
        """For two classes, the additive model fitted by penalised logistic regression
        (see :func:`skkan._least_squares.fit_additive_logistic`). It is not kept on
        its own: the network's logits are averaged with it unless the network alone
        is significantly better on the validation rows (:attr:`averages_with_additive`).
        Chosen against the network alone, it won the validation rows of small noisy
        tables by chance and lost on new rows; the average lowered the log-loss on 7
        of 9 binary tables of the development half (5 folds: attrition -0.010,
        cowles -0.010, wells -0.005, hmda -0.002), +0.001 on mlc_churn. Other competitors
        chosen on the calibrated validation log-loss won there and lost on new rows as
        often as not (development half of benchmarks/tables.py, 3 folds): the
        Adam-trained additive network ROC AUC +0.012 attrition, -0.015 lending_club,
        -0.009 hmda; (32,) on a grid of 2: within -0.002 to +0.002 everywhere; (8,) on
        4: -0.011 attrition, -0.008 hmda."""
        return (((), grid_size),) if self.n_outputs == 1 else ()

    @staticmethod
    def auto_batch_size(n_samples):
        if n_samples >= _MINIBATCH_ROWS:
            # Small steps generalise better than full-batch steps on a few thousand
            # rows (digits: +0.013 accuracy); large data keep large batches for speed.
            return min(n_samples, max(_MIN_BATCH, min(_AUTO_BATCH_MAX, n_samples // 16)))
        return RegressionTargets.auto_batch_size(n_samples)

    @staticmethod
    def auto_learning_rate(n_samples):
        return _MINIBATCH_LEARNING_RATE if n_samples >= _MINIBATCH_ROWS else _FULL_BATCH_LEARNING_RATE

    # ------------------------------------------------------------------ back to the user
    def to_user(self, output):
        """Decision scores: one column per class, or the second class's logit for two."""
        return output[:, 0] if output.shape[1] == 1 else output

    def output_transform(self):
        return np.ones(self.n_outputs), np.zeros(self.n_outputs)

    def package(self, expressions):
        """A dict ``class label -> expression of its decision score``."""
        import sympy

        # Plain python keys (0, "setosa"), not numpy scalars (np.int64(0), np.str_(...)).
        labels = self.classes.tolist()
        if len(labels) == 2:
            # Scores (0, s) give the same argmax and softmax as the logit s.
            return {labels[0]: sympy.Integer(0), labels[1]: expressions[0]}
        return dict(zip(labels, expressions))

    def unpackage(self, formula):
        import sympy

        labels = self.classes.tolist()
        if not isinstance(formula, dict) or set(formula) != set(labels):
            raise ValueError(f"Expected a dict with one expression per class {labels}.")
        if len(labels) == 2:
            return [sympy.sympify(formula[labels[1]]) - sympy.sympify(formula[labels[0]])]
        return [formula[label] for label in labels]

    def shape(self, values):
        return values[:, 0] if len(self.classes) == 2 else values

    def continued(self, y):
        return self

    def fitted_attributes(self):
        return {"classes_": self.classes}

    def output_names(self):
        labels = [str(c) for c in np.asarray(self.classes).tolist()]
        # Two classes: the one output is the logit of the second class.
        return labels[1:] if len(labels) == 2 else labels

    def to_state(self):
        return {"kind": "classification", "classes": self.classes}

    @classmethod
    def from_state(cls, state):
        return cls(np.asarray(state["classes"]))


def target_type_from_state(state):
    """The target class that :meth:`to_state` wrote ``state`` for."""
    return {"regression": RegressionTargets, "classification": ClassificationTargets}[state["kind"]]
