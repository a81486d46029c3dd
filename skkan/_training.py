"""The training loop of the KAN estimators.

One closure path serves every solver: a step evaluates a closure that computes the
objective of a batch and its gradients, in row chunks when the batch is too large
for the memory budget, so that full-batch L-BFGS and mini-batch Adam share the code
and memory grows with the chunk, never with the rows. The optimizer owns its step
size schedule (:meth:`on_plateau`), as in scikit-learn's ``_stochastic_optimizers``.
The estimators keep data preparation and fitted state.
"""

import copy
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from ._progress import Progress

__all__ = ["TrainingData", "Trainer", "chunk_rows_for"]

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

    def epoch(self, module, optimizer, data, generator):
        """One pass over ``data``; returns its (weighted mean) training loss."""
        module.train()
        if self.solver == "lbfgs":
            return float(optimizer.step(self.closure(module, optimizer, data, None)))
        n = len(data)
        if self.batch_size >= n:
            return float(optimizer.step(self.closure(module, optimizer, data, None)))
        order = torch.randperm(n, generator=generator)
        total_weight = data.weight_sum()
        running = 0.0
        # Batches of equal size (within one row): a remainder of a few rows would make
        # one noisy step per pass, which partial_fit on chunks would repeat every call.
        for positions in torch.tensor_split(order, -(-n // self.batch_size)):
            loss = float(optimizer.step(self.closure(module, optimizer, data, positions)))
            running += loss * data.weight_sum(positions) / total_weight
        return running

    @torch.no_grad()
    def evaluate(self, module, data):
        """Validation score of ``module`` on ``data``, computed in chunks."""
        module.eval()
        outputs, targets, weights = [], [], []
        for piece in data.chunks(None, 4 * self.chunk_rows):
            x, t, w = data.batch(piece)
            outputs.append(module(x))
            targets.append(t)
            weights.append(w)
        return self.validation_score(torch.cat(outputs), torch.cat(targets), torch.cat(weights))

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
    ):
        """Train until convergence, a plateau the optimizer gives up on, or ``max_epochs``.

        With ``validation``, the parameters of the best validation score are kept.
        When ``continuing`` a fitted module, the starting parameters compete too, so
        training further never leaves a worse fit than it started from.

        Returns
        -------
        dict with ``module``, ``n_iter``, ``loss_curve``, ``validation_scores``,
        ``best_loss`` and ``converged``.
        """
        progress = progress or Progress(max_epochs, False)
        optimizer = make_optimizer(module)
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
        last_update = max(grid_update_epochs, default=-1)
        epoch = 0
        for epoch in range(max_epochs):
            if epoch in grid_update_epochs:
                self.update_grids(module, data, generator)
                if self.solver == "lbfgs":
                    optimizer = make_optimizer(module)  # the curvature history is stale
            epoch_loss = self.epoch(module, optimizer, data, generator)
            if not np.isfinite(epoch_loss):
                progress.close()
                raise ValueError(
                    "Training diverged (the loss became non-finite); try a smaller "
                    "learning_rate_init or scaling extreme inputs."
                )
            loss_curve.append(epoch_loss)
            score = None
            if validation is not None:
                score = self.evaluate(module, validation)
                validation_scores.append(score)
                if score > best_score:
                    best_state = copy.deepcopy(module.state_dict())
                no_improvement = no_improvement + 1 if score < best_score + self.tol else 0
                best_score = max(best_score, score)
            else:
                no_improvement = no_improvement + 1 if epoch_loss > best_loss - self.tol else 0
                best_loss = min(best_loss, epoch_loss)
            progress.update(epoch + 1, epoch_loss, score)
            if no_improvement > self.n_iter_no_change and epoch >= last_update:
                if optimizer.on_plateau():
                    converged = True
                    break
                no_improvement = 0
        if best_state is not None:
            module.load_state_dict(best_state)
        elif start_objective is not None and self.training_objective(module, data) > start_objective:
            module.load_state_dict(start_state)
        module.eval()
        progress.close()
        return {
            "module": module,
            "n_iter": epoch + 1,
            "loss_curve": loss_curve,
            "validation_scores": validation_scores,
            "best_loss": None if validation is not None else best_loss,
            "converged": converged,
        }
