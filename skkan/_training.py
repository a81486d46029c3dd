"""The training loop of the KAN estimators.

One closure path serves every solver: a step evaluates a closure that computes the
objective of a batch and its gradients, in row chunks when the batch is too large
for the memory budget, so that full-batch L-BFGS and mini-batch Adam share the code
and memory grows with the chunk, never with the rows. The optimizer owns its step
size schedule (:meth:`on_plateau`), as in scikit-learn's ``_stochastic_optimizers``.
:func:`train` is the one entry point of ``fit`` and ``partial_fit``: it builds or
continues the network, splits off validation rows and runs :meth:`Trainer.run` (a
``partial_fit`` call is one epoch of the same loop); :class:`TrainingConfig` resolves
the ``"auto"`` hyperparameters for the data at hand. The estimators keep input
validation and fitted state; a target object (:mod:`skkan._targets`) brings the loss
and the validation score.
"""

import copy
import warnings
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Callable, Optional

import numpy as np
import torch

from ._additive import average_with_additive, significantly_positive
from ._optim import make_optimizer
from ._preprocessing import InputScaler
from ._progress import Progress
from .nn import KAN
from .nn._threads import limited_threads

__all__ = [
    "AUTO_EARLY_STOPPING_ROWS",
    "EXTENSION_STEP_DIVISOR",
    "GRID_UPDATE_EPOCHS",
    "MAX_EXTENDED_GRID",
    "ROWS_PER_GRID_INTERVAL",
    "Trainer",
    "TrainingConfig",
    "TrainingData",
    "TrainingResult",
    "auto_early_stopping",
    "chunk_rows_for",
    "extension_grids",
    "resolve_device",
    "thread_limit_for",
    "train",
]

#: Epochs before which the grids are re-fitted to the data (pykan: the first ~50
#: steps); ``fit`` stops at half of ``max_iter``, ``partial_fit`` counts passes.
GRID_UPDATE_EPOCHS = (0, 1, 3, 7, 15, 31)

DTYPES = {"float32": torch.float32, "float64": torch.float64}

# Plateaus on which Adam's step is divided by 5 before training stops (measured on
# California Housing: a second drop cost 15 % more epochs for +0.002 R^2).
_LR_DROPS = 1

# Below this many (batch rows x edges x basis functions) per step, one thread is
# faster than two: per-op overhead dominates and a second thread only synchronises.
_SINGLE_THREAD_WORK = 2_000_000

# early_stopping="auto" holds out validation rows from this many training rows (the
# classifier's "auto" capacity grows to a hidden layer of 32 nodes there). Chosen on
# the development half of benchmarks/tables.py: validation stopping fixed the noisy
# tables of 1,000+ rows (log-loss 1.15-3.7x the MLP's before) but cost 0.01-0.03 R^2
# on the regression tables of 263-442 rows, where every row counts. On clean sets it
# first cost accuracy (benchmarks/defaults.py: digits 0.972 -> 0.958, moons 0.919 ->
# 0.908); the calibrated validation log-loss, training past the last grid update and
# the weight average (see Trainer.run) won it back.
AUTO_EARLY_STOPPING_ROWS = 500

# Validation runs of targets with ``average_weights`` evaluate and keep a running
# average of the weights over about this many epochs of Adam steps (reset when the
# grids are re-fitted): the minibatch noise of the last steps no longer decides which
# epoch wins. benchmarks/defaults.py, classifier seeds 0-3, with the calibrated score
# and training past the last grid update: make_classification 0.9456 -> 0.9493 mean
# accuracy. (A refit on all rows for the chosen epochs, with a patience reset at grid
# updates, added 0.002-0.003 on digits and make_classification but took 1.75x the
# time: benchmarks/tables.py's development half, median fit / MLP above 2.)
_AVERAGE_EPOCHS = 1.0

# grid_size="auto" refines the grids after training (doubling them) while the
# validation score improves, up to this many intervals and with at least this many
# training rows per interval. Chosen on the development half of benchmarks/tables.py
# (3 folds): additive model with interactions, R^2 +0.003 on ames, computers and
# txhousing, +0.0001 on nyc_weather, -0.005 on wage, the others equal; default
# networks +0.003 to +0.004 on ames, computers and hmda, the others within 0.001;
# fit time +15-20 % (a rejected stage).
MAX_EXTENDED_GRID = 40
ROWS_PER_GRID_INTERVAL = 100
# Training on a refined grid starts from a fitted network: Adam at the full step
# first undid part of the fit, and the plateau test ended the stage before it
# recovered (a refined additive model with pairs kept its starting weights). For
# additive networks the stages start at the step Adam reaches after its first drop
# instead. Development half, 3 folds, against the full step: additive model with
# interactions +0.007 computers, +0.005 txhousing and wage, -0.005 ames, -0.003
# attrition, the others within 0.002. Networks with a hidden layer keep the full
# step: there the smaller one was mixed (tables +0.008 computers, +0.006 wage, -0.004
# hmda; benchmarks/defaults.py California -0.003 R^2, digits -0.001 accuracy, below
# the MLP's - 0.005).
EXTENSION_STEP_DIVISOR = 5

# Two classes: the default network averaged with the additive model is kept unless
# the network alone has a lower validation loss at this one-sided level (paired test).
_NETWORK_KEPT_RATE = 0.05

# Attribution scores (feature_importances_, prune, formulas) use this many rows.
ATTRIBUTION_ROWS = 4096
# Rows of a step above which its size no longer changes the thread decision.
_THREAD_PROBE_ROWS = 4096

# Memory that the tensors of one forward and backward pass over a chunk may take.
_CHUNK_BYTES = 192 * 2**20
# Grids are re-fitted to the quantiles of at most this many rows (a random subset).
GRID_ROWS = 32_768


def chunk_rows_for(module, dtype):
    """Rows whose forward and backward pass fit in the memory budget.

    Per row and layer the pass keeps about six tensors the size of the basis
    ``(in, G + k)`` (basis, its indices and local values, gradients) plus the outputs.
    """
    itemsize = torch.finfo(dtype).bits // 8
    per_row = sum(6 * layer.in_features * (layer.coef.shape[-1] + 2) + 4 * layer.out_features for layer in module.layers)
    return max(1024, int(_CHUNK_BYTES // (per_row * itemsize)))


def _evenly_spaced(n, k):
    """At most ``k`` evenly spaced indices into ``n`` rows (all of them if ``n <= k``)."""
    return torch.as_tensor(np.unique(np.linspace(0, n - 1, k).astype(np.int64)))


class TrainingData:
    """Training rows kept as given (no scaled copy); batches are scaled as they are drawn.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Raw validated features (float32 or float64, C-contiguous: shared, not copied).
    targets : torch.Tensor
        Targets in the network's space, one row per sample (on the CPU).
    weight : ndarray of shape (n_samples,)
    scaler : InputScaler
    dtype, device :
        Precision and device of the batches.
    rows : ndarray of int, optional
        The subset of rows this object stands for (a split shares the arrays).
    """

    def __init__(self, X, targets, weight, scaler, dtype, device, rows=None):
        with warnings.catch_warnings():
            # Read-only arrays (e.g. from pandas) are shared as they are: never written to.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self._X = torch.from_numpy(np.ascontiguousarray(X))
        self._targets = targets
        self._weight = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float64))
        self._scaler = scaler
        self.dtype, self.device = dtype, device
        self._rows = None if rows is None else torch.as_tensor(np.asarray(rows, dtype=np.int64))

    def __len__(self):
        return self._X.shape[0] if self._rows is None else int(self._rows.numel())

    def subset(self, rows):
        """The rows ``rows`` (positions in the full arrays) of the same data."""
        copy_ = copy.copy(self)
        copy_._rows = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        return copy_

    def _global(self, positions):
        if positions is None:
            return self._rows
        positions = torch.as_tensor(positions, dtype=torch.int64)
        return positions if self._rows is None else self._rows[positions]

    def batch(self, positions=None):
        """Scaled features, targets and weights of ``positions`` (all rows if None), on the device."""
        rows = self._global(positions)
        if rows is None:
            x, t, w = self._X, self._targets, self._weight
        else:
            x, t, w = self._X.index_select(0, rows), self._targets.index_select(0, rows), self._weight.index_select(0, rows)
        x = self._scaler.transform_tensor(x, self.dtype)
        return x.to(self.device), t.to(self.device), w.to(device=self.device, dtype=self.dtype)

    def weight_sum(self, positions=None):
        rows = self._global(positions)
        return float((self._weight if rows is None else self._weight.index_select(0, rows)).sum())

    def spread_positions(self, n):
        """``n`` evenly spaced positions (all if there are fewer rows): an unbiased subset of sorted data."""
        return None if len(self) <= n else _evenly_spaced(len(self), n)

    def random_positions(self, n, generator):
        """``n`` random positions (all if there are fewer rows), in order."""
        if len(self) <= n:
            return None
        return torch.randperm(len(self), generator=generator)[:n].sort().values

    def chunks(self, positions, size):
        """Split ``positions`` (None: all rows) into pieces of at most ``size``."""
        if positions is None:
            if len(self) <= size:
                return [None]
            positions = torch.arange(len(self))
        return list(torch.split(positions, size))


@dataclass
class Trainer:
    """Runs epochs of one solver on a module.

    Parameters
    ----------
    loss : callable (output, target, weight) -> scalar tensor
        Weighted mean loss of a batch.
    objective : callable (module, x, target, weight) -> scalar tensor
        Loss plus penalty of a batch (one forward pass shared by both).
    penalty : callable (module, x, weight) -> scalar tensor, or None
        The penalty alone (used with chunked batches, on a bounded subset of rows).
    validation_score : callable (output, target, weight) -> float
        Higher is better.
    solver : {"adam", "lbfgs"}
    batch_size : int
        Most rows per Adam step: a pass is split into ``ceil(n / batch_size)`` batches
        of equal size (L-BFGS steps on all rows).
    chunk_rows : int
        Most rows in one forward pass (memory budget).
    grid_eps : float
    tol : float
    n_iter_no_change : int
    """

    loss: Callable
    objective: Callable
    penalty: Optional[Callable]
    validation_score: Callable
    solver: str
    batch_size: int
    chunk_rows: int
    grid_eps: float
    tol: float
    n_iter_no_change: int
    #: With validation, stop at the first plateau instead of dividing Adam's step.
    first_validation_plateau_stops: bool = False

    # ------------------------------------------------------------------ steps
    def _objective_of(self, module, data, positions, backward):
        """Objective of the rows ``positions`` (None: all), in chunks; gradients if ``backward``."""
        pieces = data.chunks(positions, self.chunk_rows)
        if len(pieces) == 1:
            loss = self.objective(module, *data.batch(pieces[0]))
            if backward:
                loss.backward()
            return loss.detach()
        total_weight = data.weight_sum(positions)
        total = 0.0
        for piece in pieces:
            x, t, w = data.batch(piece)
            loss = self.loss(module(x), t, w) * (w.sum() / total_weight)
            if backward:
                loss.backward()
            total = total + loss.detach()
        if self.penalty is not None:
            # The penalty is a statistic of the activations (their spreads): on a
            # bounded, evenly spaced subset it stays within the memory budget.
            chosen = positions if positions is not None else torch.arange(len(data))
            x, _, w = data.batch(chosen[_evenly_spaced(len(chosen), self.chunk_rows)])
            penalty = self.penalty(module, x, w)
            if backward:
                penalty.backward()
            total = total + penalty.detach()
        return total

    def closure(self, module, optimizer, data, positions):
        """The closure an optimizer step calls: objective of ``positions`` with gradients."""

        def closure():
            optimizer.zero_grad(set_to_none=True)
            return self._objective_of(module, data, positions, backward=True)

        return closure

    def minibatches(self, data):
        """Whether an epoch on ``data`` takes several steps (Adam on more rows than a batch)."""
        return self.solver != "lbfgs" and self.batch_size < len(data)

    def epoch(self, module, optimizer, data, generator, averaged=None):
        """One pass over ``data``; returns its (weighted mean) training loss.

        ``averaged``: a copy of ``module`` whose parameters follow an exponential
        moving average of ``module``'s after every minibatch step.
        """
        module.train()
        if not self.minibatches(data):
            return float(optimizer.step(self.closure(module, optimizer, data, None)))
        n = len(data)
        steps = -(-n // self.batch_size)
        if averaged is not None:
            rate = min(1.0, 1.0 / (_AVERAGE_EPOCHS * steps))
            params, shadow = list(module.parameters()), list(averaged.parameters())
        order = torch.randperm(n, generator=generator)
        total_weight = data.weight_sum()
        running = 0.0
        # Batches of equal size (within one row): a remainder of a few rows would make
        # one noisy step per pass, which partial_fit on chunks would repeat every call.
        for positions in torch.tensor_split(order, steps):
            loss = float(optimizer.step(self.closure(module, optimizer, data, positions)))
            if averaged is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(shadow, params, rate)
            running += loss * data.weight_sum(positions) / total_weight
        return running

    @torch.no_grad()
    def outputs(self, module, data):
        """``(outputs, targets, weights)`` of every row of ``data``, computed in chunks."""
        module.eval()
        outputs, targets, weights = [], [], []
        for piece in data.chunks(None, 4 * self.chunk_rows):
            x, t, w = data.batch(piece)
            outputs.append(module(x))
            targets.append(t)
            weights.append(w)
        return torch.cat(outputs), torch.cat(targets), torch.cat(weights)

    def evaluate(self, module, data):
        """Validation score of ``module`` on ``data``."""
        return self.validation_score(*self.outputs(module, data))

    @torch.no_grad()
    def training_objective(self, module, data):
        """The full training objective (loss plus penalty), without gradients."""
        module.eval()
        return float(self._objective_of(module, data, None, backward=False))

    @torch.no_grad()
    def update_grids(self, module, data, generator):
        """Re-fit every layer's grid to (a bounded random subset of) the rows of ``data``."""
        x, _, w = data.batch(data.random_positions(GRID_ROWS, generator))
        module.update_grid(x, grid_eps=self.grid_eps, sample_weight=w)

    # ------------------------------------------------------------------ runs
    def run(
        self,
        module,
        make_optimizer,
        data,
        *,
        max_epochs,
        generator,
        grid_update_epochs=(),
        validation=None,
        continuing=False,
        progress=None,
        first_epoch=0,
        optimizer_state=None,
        report_stop=True,
        average=False,
    ):
        """Train until convergence, a plateau the optimizer gives up on, or ``max_epochs``.

        With ``validation``, the parameters of the best validation score are kept.
        When ``continuing`` a fitted module, the starting parameters compete too, so
        training further never leaves a worse fit than it started from. Epochs are
        numbered from ``first_epoch`` (``partial_fit``: the passes made so far), and
        ``optimizer_state`` resumes the optimizer where an earlier run left it.
        ``report_stop``: say at the end why training stopped (not for one pass of
        ``partial_fit``, which stops by design). ``average`` (with validation and
        minibatches): the validation score and the kept weights are those of a
        running average of the weights over about :data:`_AVERAGE_EPOCHS` epochs of
        steps, restarted at every grid update.

        Returns
        -------
        dict with ``module``, ``n_iter``, ``loss_curve``, ``validation_scores``,
        ``best_loss``, ``converged`` and ``optimizer_state``.
        """
        progress = progress or Progress(max_epochs, False)
        optimizer = make_optimizer(module)
        if optimizer_state is not None and hasattr(optimizer, "load_state"):
            optimizer.load_state(optimizer_state)
        loss_curve, validation_scores = [], []
        best_loss, best_score, best_state = np.inf, -np.inf, None
        start_objective = None
        if continuing:
            if validation is not None:
                best_score = self.evaluate(module, validation)
                best_state = copy.deepcopy(module.state_dict())
            else:
                start_objective = self.training_objective(module, data)
                start_state = copy.deepcopy(module.state_dict())
        no_improvement = 0
        converged = False
        best_epoch = None  # the epoch whose weights a validation run restores (None: the start)
        last_update = max(grid_update_epochs, default=-1)
        epoch = first_epoch
        averaged = copy.deepcopy(module) if average and self.minibatches(data) else None
        for epoch in range(first_epoch, first_epoch + max_epochs):
            if epoch in grid_update_epochs:
                self.update_grids(module, data, generator)
                if averaged is not None:
                    averaged = copy.deepcopy(module)  # coefficients of another grid
                if self.solver == "lbfgs":
                    optimizer = make_optimizer(module)  # the curvature history is stale
            epoch_loss = self.epoch(module, optimizer, data, generator, averaged=averaged)
            if not np.isfinite(epoch_loss):
                progress.close()
                raise ValueError(
                    "Training diverged (the loss became non-finite); try a smaller "
                    "learning_rate_init or scaling extreme inputs."
                )
            loss_curve.append(epoch_loss)
            score = None
            if validation is not None:
                evaluated = averaged if averaged is not None else module
                score = self.evaluate(evaluated, validation)
                validation_scores.append(score)
                if score > best_score:
                    best_state = copy.deepcopy(evaluated.state_dict())
                    best_epoch = epoch + 1
                no_improvement = no_improvement + 1 if score < best_score + self.tol else 0
                best_score = max(best_score, score)
            else:
                no_improvement = no_improvement + 1 if epoch_loss > best_loss - self.tol else 0
                best_loss = min(best_loss, epoch_loss)
            progress.update(epoch + 1, epoch_loss, score)
            # Training runs at least until the last grid update, with validation too:
            # a plateau before it stopped clean problems early (the best weights are
            # restored anyway, so noisy data lose nothing but time). Validation runs
            # then stop at the first plateau of the final grid (or, for regression,
            # the second, after Adam's step is divided).
            if no_improvement > self.n_iter_no_change and epoch >= last_update:
                if (validation is not None and self.first_validation_plateau_stops) or optimizer.on_plateau():
                    converged = True
                    break
                no_improvement = 0
        watched = "validation score" if validation is not None else "training loss"
        if converged:
            where = "" if self.solver == "lbfgs" else " at the lowest step size"
            reason = (
                f"Stopped after epoch {epoch + 1}: the {watched} did not improve by tol={self.tol:g} "
                f"for more than {self.n_iter_no_change} epochs{where}"
            )
        else:
            reason = f"Reached the last epoch allowed ({epoch + 1}) before the {watched} settled"
        if best_state is not None:
            module.load_state_dict(best_state)
            if best_epoch is None:
                reason += f"; kept the starting weights (validation score {best_score:.6g})"
            else:
                reason += f"; restored the weights of epoch {best_epoch} (validation score {best_score:.6g})"
        elif start_objective is not None and self.training_objective(module, data) > start_objective:
            module.load_state_dict(start_state)
            reason += "; kept the starting weights (training did not improve the training objective)"
        module.eval()
        progress.close(reason + "." if report_stop else None)
        return {
            "module": module,
            "n_iter": epoch + 1 - first_epoch,
            "loss_curve": loss_curve,
            "validation_scores": validation_scores,
            "best_loss": None if validation is not None else best_loss,
            "converged": converged,
            "optimizer_state": optimizer.state() if hasattr(optimizer, "state") else None,
        }


# ---------------------------------------------------------------------- fit
def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` into a :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available in this PyTorch "
            "installation; use device='cpu' or device='auto'."
        )
    return resolved


def thread_limit_for(rows, module):
    """1 for steps of ``rows`` rows too small to share between threads, else None."""
    work = rows * sum(layer.coef.numel() for layer in module.layers)
    return 1 if work < _SINGLE_THREAD_WORK else None


def auto_early_stopping(n_samples):
    """``early_stopping="auto"``: on from :data:`AUTO_EARLY_STOPPING_ROWS` training rows.

    ``partial_fit`` (``n_samples=np.inf``) never stops early, whatever this says:
    :func:`train` holds out no validation rows for one incremental pass.
    """
    return bool(n_samples >= AUTO_EARLY_STOPPING_ROWS)


def _hidden_sizes(sizes):
    if isinstance(sizes, (Integral, np.integer)):
        return (int(sizes),)
    sizes = tuple(int(s) for s in sizes)
    if any(s < 1 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return sizes


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of one training run, ``"auto"`` resolved for the data at hand.

    Built by :meth:`from_params` from an estimator's hyperparameters; the
    data-dependent defaults (capacity, learning rate, batch size) come from the
    target object of the task.
    """

    targets: object
    hidden_sizes: tuple
    grid_size: int
    spline_order: int
    grid_eps: float
    penalty_weights: dict
    solver: str
    learning_rate: float
    max_iter: int
    batch_size: object
    tol: float
    early_stopping: bool  # "auto" resolved
    validation_fraction: float
    n_iter_no_change: int
    verbose: object
    device: object
    dtype: object = field(default=torch.float32)
    #: Masks of the first layers of a new network (e.g. an additive model's pairs).
    layer_masks: tuple = ()
    #: Refine the grids after training while the validation score improves
    #: (``grid_size="auto"``; see :func:`extension_grids`).
    grid_extension: bool = False
    #: Networks ``(hidden_sizes, grid_size)`` that, each trained from its own start,
    #: compete with the first one on the validation rows (see :func:`train`).
    competitors: tuple = ()
    #: Solve an additive model directly (see :func:`solves_in_closed_form`).
    closed_form: bool = False

    @classmethod
    def from_params(cls, params, targets, n_samples, n_features):
        """Settings for ``n_samples`` rows (``np.inf``: chunks of unknown total size).

        ``partial_fit`` sees one chunk of data of unknown total size: ``"auto"`` then
        gives the capacity and step size of large data.
        """
        auto_sizes, auto_grid = targets.auto_capacity(n_samples, n_features)
        auto_grid_size = isinstance(params["grid_size"], str)
        hidden = params["hidden_layer_sizes"]
        if isinstance(hidden, str) and params.get("interactions", 0):
            auto_sizes = ()  # pair terms belong to the additive model (see skkan._additive)
        rate = params["learning_rate_init"]
        stopping = params["early_stopping"]
        return cls(
            targets=targets,
            hidden_sizes=tuple(auto_sizes) if isinstance(hidden, str) else _hidden_sizes(hidden),
            grid_size=auto_grid if isinstance(params["grid_size"], str) else int(params["grid_size"]),
            spline_order=params["spline_order"],
            grid_eps=params["grid_eps"],
            penalty_weights={
                name: params[name] for name in ("lamb", "lamb_l1", "lamb_entropy", "lamb_coef", "lamb_coefdiff")
            },
            solver=params["solver"],
            learning_rate=targets.auto_learning_rate(n_samples) if isinstance(rate, str) else float(rate),
            max_iter=params["max_iter"],
            batch_size=params["batch_size"],
            tol=params["tol"],
            early_stopping=auto_early_stopping(n_samples) if stopping == "auto" else bool(stopping),
            validation_fraction=params["validation_fraction"],
            n_iter_no_change=params["n_iter_no_change"],
            verbose=params["verbose"],
            device=params["device"],
            dtype=DTYPES[params["dtype"]],
            grid_extension=auto_grid_size,
            # Only for the default network with a hidden layer (hidden_layer_sizes and
            # grid_size both "auto"; the additive models have coarse grids of their own).
            competitors=(
                targets.auto_competitors(tuple(auto_sizes), auto_grid)
                if auto_grid_size and isinstance(hidden, str) and auto_sizes else ()
            ),
            # Early stopping asked for by name means training by the solver, with its
            # validation rows; "auto" and False leave the choice to the data.
            closed_form=targets.solves_additive_directly and stopping is not True and not params["lamb"],
        )

    def batch_size_for(self, n_rows):
        """Rows per step on ``n_rows`` training rows (all of them for L-BFGS)."""
        if self.solver == "lbfgs":
            return n_rows
        if self.batch_size == "auto":
            return self.targets.auto_batch_size(n_rows)
        return min(self.batch_size, n_rows)

    def grid_update_epochs(self):
        """Epochs of :data:`GRID_UPDATE_EPOCHS` in the first half of ``max_iter``."""
        stop = max(1, self.max_iter // 2)
        return {e for e in GRID_UPDATE_EPOCHS if e < stop}

    def new_optimizer(self, module):
        return make_optimizer(self.solver, module.parameters(), self.learning_rate, lr_drops=_LR_DROPS)

    def objective(self, module, x, target, weight):
        """Loss plus penalty of a batch, with one forward pass for both."""
        if not self.penalty_weights["lamb"]:
            return self.targets.loss(module(x), target, weight)
        values = module.layer_inputs(x)
        penalty = self.penalty_of(module, x, weight, layer_inputs=values[:-1])
        return self.targets.loss(values[-1], target, weight) + penalty

    def penalty_of(self, module, x, weight, layer_inputs=None):
        """pykan's sparsity penalty, ``lamb`` times the weighted sum of its parts."""
        weights = {name: value for name, value in self.penalty_weights.items() if name != "lamb"}
        return self.penalty_weights["lamb"] * module.regularization(
            x, sample_weight=weight, layer_inputs=layer_inputs, **weights
        )


@dataclass
class TrainingResult:
    """What :func:`train` hands back to the estimator (totals over earlier runs)."""

    module: object
    scaler: object
    n_iter: int
    loss_curve: list
    best_loss: Optional[float]
    validation_scores: Optional[list]
    converged: bool
    optimizer_state: Optional[dict]
    attribution: Optional[tuple]


@dataclass
class PreviousFit:
    """A fitted network that training continues (``warm_start`` or ``partial_fit``)."""

    module: object
    scaler: object
    n_iter: int
    loss_curve: list
    optimizer_state: Optional[dict] = None


def train(X, encoded, sample_weight, config, random_state, *, previous=None, incremental=False, description="fit",
          validation_rows=None):
    """Train a network on validated raw ``X`` and encoded targets: ``fit`` and ``partial_fit``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    encoded : ndarray
        Targets as ``config.targets.encode`` gives them.
    sample_weight : ndarray of shape (n_samples,)
    config : TrainingConfig
    random_state : None, int or RandomState
    previous : PreviousFit, optional
        The network to continue from (its input scaling is kept).
    incremental : bool
        One epoch of ``partial_fit`` (no early stopping; grids re-fitted after 0, 1,
        3, 7, 15 and 31 passes; the optimizer resumed).
    description : str
        Name shown by the progress bar.
    validation_rows : ndarray of int, optional
        With early stopping, the rows of ``X`` that judge it (the others train);
        None draws ``config.validation_fraction`` of the rows at random.

    Returns
    -------
    TrainingResult
    """
    from sklearn.utils import check_random_state

    device = resolve_device(config.device)
    dtype = config.dtype
    rng = check_random_state(random_state)
    if incremental and previous is not None:
        # A different seed for every pass: chunks are shuffled differently.
        seed = check_random_state(random_state).randint(2**31 - 1)
        rng = np.random.RandomState((seed + previous.n_iter) % (2**31 - 1))
    generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
    if previous is not None:
        scaler = previous.scaler
        module = copy.deepcopy(previous.module).to(device=device, dtype=dtype)
        n_iter, loss_curve = previous.n_iter, list(previous.loss_curve)
    else:
        scaler = InputScaler.fit(X, sample_weight, rng)
        module = _new_network(X.shape[1], config, generator, dtype).to(device)
        n_iter, loss_curve = 0, []

    targets = config.targets.tensor(encoded, torch.device("cpu"), dtype)
    data = TrainingData(X, targets, sample_weight, scaler, dtype, device)
    validation = None
    progress = Progress(1 if incremental else config.max_iter, config.verbose, description=description)
    # None: no direct fit (see solves_in_closed_form), or a design too large for it
    # (then the solver trains the network).
    closed = _closed_form_result(module, data, config, generator, progress) if solves_in_closed_form(
        config, previous, incremental
    ) else None
    if config.early_stopping and not incremental and closed is None:
        if validation_rows is None:
            data, validation = _validation_split(data, X.shape[0], encoded, config, rng)
        else:
            train_rows = np.setdiff1d(np.arange(X.shape[0]), validation_rows)
            data, validation = data.subset(train_rows), data.subset(np.sort(np.asarray(validation_rows)))

    trainer = Trainer(
        loss=config.targets.loss,
        objective=config.objective,
        penalty=config.penalty_of if config.penalty_weights["lamb"] else None,
        validation_score=config.targets.score,
        solver=config.solver,
        batch_size=config.batch_size_for(len(data)),
        chunk_rows=chunk_rows_for(module, next(module.parameters()).dtype),
        grid_eps=config.grid_eps,
        tol=config.tol,
        n_iter_no_change=config.n_iter_no_change,
        first_validation_plateau_stops=config.targets.stop_at_first_validation_plateau,
    )
    if closed is not None:
        result = closed
    else:
        if incremental:
            passes = n_iter if previous is not None else 0
            schedule = {passes} & set(GRID_UPDATE_EPOCHS)
            options = {"max_epochs": 1, "first_epoch": passes, "grid_update_epochs": schedule, "report_stop": False}
            if passes and previous.optimizer_state is not None:
                options["optimizer_state"] = previous.optimizer_state
        else:
            schedule = set() if previous is not None else config.grid_update_epochs()
            options = {"max_epochs": config.max_iter, "grid_update_epochs": schedule, "continuing": previous is not None}
        average = validation is not None and config.targets.average_weights
        with limited_threads(thread_limit_for(min(len(data), trainer.batch_size, _THREAD_PROBE_ROWS), module)):
            result = trainer.run(
                module, config.new_optimizer, data, generator=generator, validation=validation, progress=progress,
                average=average, **options
            )
            averaging = validation is not None and previous is None and averages_with_additive(config)
            if validation is not None and previous is None and config.competitors and not averaging:
                result, config = _competition(
                    trainer, config, result, X.shape[1], data, validation, generator, average, description, device
                )
            # A closed-form winner chose its grid by leave-one-out already.
            if validation is not None and previous is None and config.grid_extension and not result.get("closed_form"):
                result = _extend_grids(trainer, config, result, data, validation, generator, average, description)
            if averaging:
                result = _averaged_with_additive(trainer, config, result, data, validation, generator, description)
    if validation is not None:
        # Calibrate the kept weights' outputs on the held-out rows (None: regression).
        output_factor = config.targets.output_factor(*trainer.outputs(result["module"], validation))
        if output_factor is not None:
            result["module"].layers[-1].scale_outputs(output_factor)
    loss_curve = loss_curve + result["loss_curve"]
    attribution = None
    if not (incremental and previous is not None):
        # Attribution (feature_importances_, prune) uses up to 4096 evenly spaced rows:
        # the first rows would be a biased sample of data sorted by a column.
        x, _, w = data.batch(data.spread_positions(ATTRIBUTION_ROWS))
        attribution = (x.cpu(), w.cpu())
    return TrainingResult(
        module=result["module"],
        scaler=scaler,
        n_iter=n_iter + result["n_iter"],
        loss_curve=loss_curve,
        best_loss=min(loss_curve) if incremental else result["best_loss"],
        validation_scores=result["validation_scores"] if validation is not None else None,
        converged=result["converged"],
        optimizer_state=result["optimizer_state"] if incremental else None,
        attribution=attribution,
    )


def solves_in_closed_form(config, previous, incremental):
    """Whether :func:`train` solves the network in closed form instead of running the solver.

    That is a new fit (not ``warm_start`` continuing nor ``partial_fit``) of a network
    without a hidden layer and without pair terms, for a task whose additive model is
    solved directly (a squared loss, or two classes: see the targets'
    ``solves_additive_directly``), and neither early stopping (by name) nor the
    sparsity penalty asked for: then the problem is linear least squares, or a convex
    penalised logistic regression (see :mod:`skkan._least_squares`).
    """
    return config.closed_form and previous is None and not incremental and not config.hidden_sizes and not config.layer_masks


def _closed_form_result(module, data, config, generator, progress, adapt_grids=True):
    """:func:`train`'s result of an additive model solved directly (None: too wide or too
    large for the task's direct fit, see the targets' ``solve_additive``)."""
    grid_sizes = [config.grid_size] + (extension_grids(config.grid_size, len(data)) if config.grid_extension else [])
    # Small designs on one thread: many small matrix products (Newton's steps), where a
    # second BLAS thread only contends with torch's (breast cancer: 1.0 s on two
    # threads, 0.1 s on one).
    with limited_threads(thread_limit_for(len(data), module)):
        fit = config.targets.solve_additive(
            module, data, grid_sizes, config.grid_eps, generator, GRID_ROWS, adapt_grids, config.grid_extension
        )
    if fit is None:
        return None
    progress.close(f"solved in closed form ({fit.summary()})")
    return {
        "module": module, "n_iter": 1, "loss_curve": [fit.training_loss], "best_loss": fit.training_loss,
        "validation_scores": None, "converged": True, "optimizer_state": None, "closed_form": True,
    }


def averages_with_additive(config):
    """Whether :func:`train` averages the trained network with the additive model
    solved directly (see the targets' ``averages_with_additive``): the default
    network of one hidden layer whose competitor is additive."""
    return (
        config.targets.averages_with_additive and len(config.hidden_sizes) == 1 and not config.layer_masks
        and bool(config.competitors) and all(not hidden for hidden, _ in config.competitors)
        and not config.penalty_weights["lamb"]
    )


def _averaged_with_additive(trainer, config, result, data, validation, generator, description):
    """``result`` with its network averaged with the additive model solved directly on
    the training rows, on the network's first-layer grid (see
    :func:`skkan._additive.average_with_additive`), unless the network alone is
    significantly better on the validation rows; unchanged where that model has no
    direct fit.

    The test is one-sided and paired over the validation rows (their calibrated
    losses), at :data:`_NETWORK_KEPT_RATE`: the simpler, smoother average is kept
    unless the rows show that the network's interactions matter. Choosing the lower
    validation loss instead followed the noise of a few hundred rows (a development
    table of 1,421 rows and 3 inputs: log-loss 0.6793 against 0.6748, the MLP's 0.6783).
    """
    network = result["module"]
    first = network.layers[0]
    additive_config = replace(
        config, hidden_sizes=(), layer_masks=(), grid_size=first.grid_size, grid_extension=False, competitors=(),
        closed_form=True,
    )
    additive = _new_network(first.in_features, additive_config, generator, first.coef.dtype).to(first.coef.device)
    additive.layers[0].grid.copy_(first.grid)
    progress = Progress(1, config.verbose, description=f"{description}, additive model to average with")
    if _closed_form_result(additive, data, additive_config, generator, progress, adapt_grids=False) is None:
        return result
    x, _, _ = data.batch(data.spread_positions(GRID_ROWS))
    averaged = average_with_additive(network, additive, x)
    gain = _row_losses(trainer, config.targets, averaged, validation) - _row_losses(
        trainer, config.targets, network, validation
    )  # positive where the network alone does better
    if not significantly_positive(gain, _NETWORK_KEPT_RATE):
        result["module"] = averaged
    return result


def _row_losses(trainer, targets, module, validation):
    """Calibrated loss of every validation row (a classifier's), times its weight over the mean weight."""
    output, target, weight = trainer.outputs(module, validation)
    output, weight = output.double(), weight.double()
    losses = targets.sample_losses(output * targets.output_factor(output, target, weight), target)
    return (losses * weight / weight.mean()).cpu().numpy()


def _new_network(n_features, config, generator, dtype):
    """A new network of ``config``'s widths, masks and grid."""
    widths = [n_features, *config.hidden_sizes, config.targets.n_outputs]
    module = KAN(widths, grid_size=config.grid_size, spline_order=config.spline_order, generator=generator, dtype=dtype)
    for layer, mask in zip(module.layers, config.layer_masks):
        layer.mask.copy_(torch.as_tensor(mask, dtype=layer.mask.dtype))
    return module


def _competition(trainer, config, result, n_features, data, validation, generator, average, description, device):
    """The best on the validation rows of ``result`` and networks of
    ``config.competitors``, each trained from its own start; and its config.

    On noisy tables a fine grid or a hidden layer fits noise that early stopping does
    not remove (it stops the epochs, not the wiggles), while on clean ones they win;
    the validation rows tell which holds (see the targets' ``auto_competitors``).
    The first network wins ties.
    """
    dtype = next(result["module"].parameters()).dtype
    best, best_config = result, config
    best_score = trainer.evaluate(result["module"], validation)
    n_iter, loss_curve, scores = result["n_iter"], list(result["loss_curve"]), list(result["validation_scores"])
    for hidden_sizes, grid_size in config.competitors:
        candidate_config = replace(config, hidden_sizes=tuple(hidden_sizes), grid_size=int(grid_size), competitors=())
        module = _new_network(n_features, candidate_config, generator, dtype).to(device)
        progress = Progress(config.max_iter, config.verbose, description=f"{description}, {list(hidden_sizes)} grid {grid_size}")
        candidate = (
            _closed_form_result(module, data, candidate_config, generator, progress)
            if solves_in_closed_form(candidate_config, None, False) else None
        )
        if candidate is not None:
            candidate["validation_scores"] = [trainer.evaluate(candidate["module"], validation)]
        else:
            candidate = trainer.run(
                module, candidate_config.new_optimizer, data, max_epochs=config.max_iter, generator=generator,
                grid_update_epochs=candidate_config.grid_update_epochs(), validation=validation, progress=progress,
                average=average,
            )
        n_iter += candidate["n_iter"]
        loss_curve += candidate["loss_curve"]
        scores += candidate["validation_scores"]
        score = trainer.evaluate(candidate["module"], validation)
        if score > best_score:
            best, best_config, best_score = candidate, candidate_config, score
    best.update(n_iter=n_iter, loss_curve=loss_curve, validation_scores=scores)
    return best, best_config


def extension_grids(grid_size, n_rows):
    """Grid sizes that :func:`train` tries after training on a grid of ``grid_size``.

    The grid doubles (so every knot is kept and the refined curves equal the trained
    ones) up to :data:`MAX_EXTENDED_GRID` intervals and at least
    :data:`ROWS_PER_GRID_INTERVAL` training rows per interval.
    """
    largest = min(MAX_EXTENDED_GRID, n_rows // ROWS_PER_GRID_INTERVAL)
    grids = []
    while 2 * grid_size <= largest:
        grid_size *= 2
        grids.append(grid_size)
    return grids


def _extend_grids(trainer, config, result, data, validation, generator, average, description):
    """pykan's grid extension, judged on the validation rows.

    Each finer grid continues training from the refined network of the previous one
    (its starting weights compete, so a stage never scores worse than it started)
    and is kept only if it raises the validation score by more than ``tol``; the
    first that does not ends the extension. For additive networks (no hidden layer,
    or masked pair terms) Adam starts these stages at the step it reaches after its
    first drop (:data:`EXTENSION_STEP_DIVISOR`).
    """
    module = result["module"]
    best_score = trainer.evaluate(module, validation)
    additive = not config.hidden_sizes or bool(config.layer_masks)
    divisor = EXTENSION_STEP_DIVISOR if additive else 1
    finer_config = replace(config, learning_rate=config.learning_rate / divisor)
    for grid_size in extension_grids(module.layers[0].grid_size, len(data)):
        candidate = copy.deepcopy(module)
        candidate.refine(grid_size)
        progress = Progress(config.max_iter, config.verbose, description=f"{description}, grid {grid_size}")
        stage = trainer.run(
            candidate, finer_config.new_optimizer, data, max_epochs=config.max_iter, generator=generator,
            validation=validation, continuing=True, progress=progress, average=average,
        )
        score = trainer.evaluate(stage["module"], validation)
        if not score > best_score + trainer.tol:
            break
        module, best_score = stage["module"], score
        stage["n_iter"] += result["n_iter"]
        stage["loss_curve"] = result["loss_curve"] + stage["loss_curve"]
        stage["validation_scores"] = result["validation_scores"] + stage["validation_scores"]
        result = stage
    return result


def _validation_split(data, n_samples, encoded, config, rng):
    """Training and validation rows for early stopping (stratified for classes)."""
    from sklearn.model_selection import train_test_split

    train_rows, validation_rows = train_test_split(
        np.arange(n_samples),
        test_size=config.validation_fraction,
        random_state=rng,
        stratify=config.targets.stratify(encoded),
    )
    if len(validation_rows) < 2:
        raise ValueError(
            f"The validation set is too small ({len(validation_rows)} samples) for early stopping; "
            "increase validation_fraction or disable early_stopping."
        )
    return data.subset(np.sort(train_rows)), data.subset(np.sort(validation_rows))
