"""Shared machinery of :class:`~skkan.KANRegressor` and :class:`~skkan.KANClassifier`."""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from sklearn_compat.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from ._optim import Adam
from .nn import KAN

__all__ = ["BaseKAN"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

# Below this many (batch rows x edges x basis functions) per step, one thread is
# faster than two: per-op overhead dominates and a second thread only synchronises.
_SINGLE_THREAD_WORK = 2_000_000

_PREDICT_CHUNK = 65_536


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


def _standardise(X, mean, scale, low, high):
    """``(X - mean) / scale``, clipped to ``[low, high]`` per column."""
    return np.clip((np.asarray(X, dtype=np.float64) - mean) / scale, low, high)


def _weighted_mean_std(values, weights):
    mean = np.average(values, axis=0, weights=weights)
    variance = np.average((values - mean) ** 2, axis=0, weights=weights)
    scale = np.sqrt(variance)
    # Constant columns keep a unit scale, as StandardScaler does.
    scale = np.where(scale < 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean)), 1.0, scale)
    return mean, scale


class BaseKAN(BaseEstimator, metaclass=ABCMeta):
    """Base class for KAN estimators; use :class:`KANRegressor` or :class:`KANClassifier`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "grid_size": [Interval(Integral, 1, None, closed="left")],
        "spline_order": [Interval(Integral, 1, None, closed="left")],
        "grid_eps": [Interval(Real, 0, 1, closed="both")],
        "lamb": [Interval(Real, 0, None, closed="left")],
        "lamb_l1": [Interval(Real, 0, None, closed="left")],
        "lamb_entropy": [Interval(Real, 0, None, closed="left")],
        "lamb_coef": [Interval(Real, 0, None, closed="left")],
        "lamb_coefdiff": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "lbfgs"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(_DTYPES))],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        grid_size,
        spline_order,
        grid_eps,
        lamb,
        lamb_l1,
        lamb_entropy,
        lamb_coef,
        lamb_coefdiff,
        solver,
        learning_rate_init,
        max_iter,
        batch_size,
        tol,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        random_state,
        warm_start,
        verbose,
        device,
        dtype,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.grid_size = grid_size
        self.spline_order = spline_order
        self.grid_eps = grid_eps
        self.lamb = lamb
        self.lamb_l1 = lamb_l1
        self.lamb_entropy = lamb_entropy
        self.lamb_coef = lamb_coef
        self.lamb_coefdiff = lamb_coefdiff
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _prepare_targets(self, y, sample_weight, reset):
        """Validate ``y`` and return (training targets as array, n_outputs, target state)."""

    @abstractmethod
    def _loss(self, output, target, weight):
        """Weighted mean training loss of a batch (a scalar tensor)."""

    @abstractmethod
    def _validation_score(self, output, target, weight):
        """Score (higher is better) of network outputs on the validation split."""

    @abstractmethod
    def _split_stratify(self, y):
        """Labels to stratify the validation split on (or None)."""

    # ------------------------------------------------------------------ helpers
    def _torch_dtype(self):
        return _DTYPES[self.dtype]

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (Integral, np.integer)):
            return [int(sizes)]
        sizes = [int(s) for s in sizes]
        if any(s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes}.")
        return sizes

    def _scale_inputs(self, X):
        """Standardise and clip to the training range (see ``_fit``)."""
        return _standardise(X, self._x_mean, self._x_scale, self._x_low, self._x_high)

    def _to_tensor(self, array, device, dtype):
        return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)

    def _thread_limit(self, rows, module):
        work = rows * sum(layer.coef.numel() for layer in module.layers)
        return 1 if work < _SINGLE_THREAD_WORK else None

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight):
        continuing = self.warm_start and hasattr(self, "module_")
        X, y = validate_data(
            self,
            X,
            y,
            reset=not continuing,
            dtype=np.float64,
            multi_output=self._multi_output_allowed,
            y_numeric=self._y_numeric,
        )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight must have at least one positive entry.")
        targets, n_outputs, target_state = self._prepare_targets(y, sample_weight, reset=not continuing)
        device = resolve_device(self.device)
        dtype = self._torch_dtype()

        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        if continuing:
            x_mean, x_scale = self._x_mean, self._x_scale
            x_low, x_high = self._x_low, self._x_high
            module = copy.deepcopy(self.module_).to(device=device, dtype=dtype)
            n_iter, loss_curve = self.n_iter_, list(self.loss_curve_)
        else:
            x_mean, x_scale = _weighted_mean_std(X, sample_weight)
            widths = [X.shape[1], *self._hidden_sizes(), n_outputs]
            module = KAN(widths, grid_size=self.grid_size, spline_order=self.spline_order, generator=generator, dtype=dtype)
            module = module.to(device)
            n_iter, loss_curve = 0, []

        if not continuing:
            # Inputs are clipped to the range seen in training: beyond it every first-
            # layer curve stays at its boundary value, as a tree's prediction does, so
            # a heavy-tailed raw feature cannot extrapolate the linear silu branch.
            seen = (X[sample_weight > 0] - x_mean) / x_scale
            x_low, x_high = seen.min(0), seen.max(0)
        X_scaled = _standardise(X, x_mean, x_scale, x_low, x_high)
        train_idx = np.arange(X.shape[0])
        val_idx = None
        if self.early_stopping:
            from sklearn.model_selection import train_test_split

            stratify = self._split_stratify(targets)
            train_idx, val_idx = train_test_split(
                train_idx, test_size=self.validation_fraction, random_state=rng, stratify=stratify
            )
            if len(val_idx) < 2:
                raise ValueError(
                    f"The validation set is too small ({len(val_idx)} samples) for early stopping; "
                    "increase validation_fraction or disable early_stopping."
                )

        to_tensor = lambda a: self._to_tensor(a, device, dtype)  # noqa: E731
        X_train, w_train = to_tensor(X_scaled[train_idx]), to_tensor(sample_weight[train_idx])
        t_train = self._target_tensor(targets[train_idx], device, dtype)
        validation = None
        if val_idx is not None:
            validation = (
                to_tensor(X_scaled[val_idx]),
                self._target_tensor(targets[val_idx], device, dtype),
                to_tensor(sample_weight[val_idx]),
            )

        with threadpool_limits(limits=self._thread_limit(min(len(train_idx), 4096), module)):
            result = self._train(module, X_train, t_train, w_train, validation, generator, continuing)

        # Only now, with training done, does the estimator change (no half-fitted state).
        self._x_mean, self._x_scale, self._x_low, self._x_high = x_mean, x_scale, x_low, x_high
        self._set_target_state(target_state)
        self.module_ = result["module"]
        self.n_iter_ = n_iter + result["n_iter"]
        self.loss_curve_ = loss_curve + result["loss_curve"]
        self.best_loss_ = result["best_loss"]
        if self.early_stopping:
            self.validation_scores_ = result["validation_scores"]
            self.best_validation_score_ = max(result["validation_scores"])
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        # Attribution (feature_importances_, prune) uses up to 4096 evenly spaced rows:
        # the first rows would be a biased sample of data sorted by some column.
        rows = torch.as_tensor(np.unique(np.linspace(0, len(X_train) - 1, min(len(X_train), 4096)).astype(int)))
        self._attribution_data = X_train.cpu()[rows]
        self._attribution_weight = w_train.cpu()[rows]
        self._model_changed()
        if result["warn"]:
            warnings.warn(
                f"{self.solver} optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _grid_update_epochs(self):
        """Epochs before which the grids are re-fitted to the data (pykan: first ~50 steps)."""
        stop = max(1, self.max_iter // 2)
        return {e for e in (0, 1, 3, 7, 15, 31) if e < stop}

    def _batch_size(self, n_samples):
        if self.solver == "lbfgs":
            return n_samples
        if self.batch_size == "auto":
            return min(_AUTO_BATCH, n_samples)
        return min(self.batch_size, n_samples)

    def _objective(self, module, x, target, weight):
        if not self.lamb:
            return self._loss(module(x), target, weight)
        values = module.layer_inputs(x)
        penalty = module.regularization(
            x,
            lamb_l1=self.lamb_l1,
            lamb_entropy=self.lamb_entropy,
            lamb_coef=self.lamb_coef,
            lamb_coefdiff=self.lamb_coefdiff,
            sample_weight=weight,
            layer_inputs=values[:-1],
        )
        return self._loss(values[-1], target, weight) + self.lamb * penalty

    def _make_optimizer(self, module):
        params = [p for p in module.parameters() if p.requires_grad]
        if self.solver == "lbfgs":
            return torch.optim.LBFGS(
                params,
                lr=1.0,
                max_iter=1,
                max_eval=25,
                history_size=20,
                tolerance_grad=0.0,
                tolerance_change=0.0,
                line_search_fn="strong_wolfe",
            )
        return Adam(params, lr=self.learning_rate_init)

    def _train(self, module, X, target, weight, validation, generator, continuing):
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        update_epochs = set() if continuing else self._grid_update_epochs()
        optimizer = self._make_optimizer(module)
        loss_curve, validation_scores = [], []
        best_loss, best_score, best_state = np.inf, -np.inf, None
        no_improvement = 0
        lr_drops = 0
        converged = False
        total_weight = weight.sum()
        epoch = 0
        for epoch in range(self.max_iter):
            if epoch in update_epochs:
                module.update_grid(X, grid_eps=self.grid_eps, sample_weight=weight)
                if self.solver == "lbfgs":
                    optimizer = self._make_optimizer(module)  # curvature history is stale
            module.train()
            if self.solver == "lbfgs":

                def closure():
                    optimizer.zero_grad(set_to_none=True)
                    loss = self._objective(module, X, target, weight)
                    loss.backward()
                    return loss

                epoch_loss = float(optimizer.step(closure).detach())
            else:
                running = 0.0
                order = torch.randperm(n_samples, generator=generator).to(X.device) if batch_size < n_samples else None
                for start in range(0, n_samples, batch_size):
                    if order is None:
                        xb, tb, wb = X, target, weight
                    else:
                        rows = order[start : start + batch_size]
                        xb, tb, wb = X[rows], target[rows], weight[rows]
                    optimizer.zero_grad(set_to_none=True)
                    loss = self._objective(module, xb, tb, wb)
                    loss.backward()
                    optimizer.step()
                    running += float(loss.detach()) * float(wb.sum() / total_weight)
                epoch_loss = running
            if not np.isfinite(epoch_loss):
                raise ValueError(
                    "Training diverged (the loss became non-finite); try a smaller "
                    "learning_rate_init or scaling extreme inputs."
                )
            loss_curve.append(epoch_loss)
            if self.verbose:
                print(f"Iteration {epoch + 1}, loss = {epoch_loss:.8f}")

            if validation is not None:
                module.eval()
                with torch.no_grad():
                    score = self._validation_score(module(validation[0]), validation[1], validation[2])
                validation_scores.append(score)
                if self.verbose:
                    print(f"Validation score: {score:.6f}")
                if score > best_score:
                    best_state = copy.deepcopy(module.state_dict())
                if score < best_score + self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                best_score = max(best_score, score)
            else:
                if epoch_loss > best_loss - self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                best_loss = min(best_loss, epoch_loss)
            if no_improvement > self.n_iter_no_change and epoch >= max(update_epochs, default=-1):
                if self.solver == "adam" and lr_drops < _LR_DROPS:
                    # Plateau: refine with a smaller step before giving up, as
                    # MLP's adaptive schedule does (divide by 5).
                    lr_drops += 1
                    optimizer.lr /= 5.0
                    no_improvement = 0
                    continue
                converged = True
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        return {
            "module": module,
            "n_iter": epoch + 1,
            "loss_curve": loss_curve,
            "validation_scores": validation_scores,
            "best_loss": None if validation is not None else best_loss,
            "warn": not converged,
        }

    # ------------------------------------------------------------------ inference
    def _model_changed(self):
        """Refresh derived state after the network changed (fit, prune, refine, ...)."""
        # Inference runs in float64 on a copy: results do not depend on how rows are
        # batched (float32 matmuls of different shapes round differently).
        module = self.module_
        inference = copy.deepcopy(module).to(device=torch.device("cpu"), dtype=torch.float64) if next(module.parameters()).device.type == "cpu" else module
        inference.eval()
        self._inference_module = inference
        self._compute_attribution()

    def _compute_attribution(self):
        """pykan's attribution scores on the stored training rows (see :meth:`prune`)."""
        parameter = next(self._inference_module.parameters())
        x = self._attribution_data.to(parameter.device, parameter.dtype)
        weight = self._attribution_weight.to(parameter.device, parameter.dtype)
        node_scores, edge_scores = self._inference_module.attribution(x, sample_weight=weight)
        self.node_scores_ = [s.double().cpu().numpy() for s in node_scores]
        self.edge_scores_ = [s.double().cpu().numpy() for s in edge_scores]
        scores = self.node_scores_[0]
        total = scores.sum()
        if not np.isfinite(total) or total <= 0:
            self.feature_importances_ = np.full(scores.shape, 1.0 / scores.size)
        else:
            self.feature_importances_ = scores / total

    def _forward(self, X):
        """Network output (in the network's internal target space) for raw ``X``."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        module = self._inference_module
        parameter = next(module.parameters())
        X_scaled = self._scale_inputs(X)
        outputs = []
        with torch.no_grad():
            for start in range(0, X_scaled.shape[0], _PREDICT_CHUNK):
                chunk = self._to_tensor(X_scaled[start : start + _PREDICT_CHUNK], parameter.device, parameter.dtype)
                outputs.append(module(chunk).double().cpu().numpy())
        return np.concatenate(outputs, axis=0) if outputs else np.empty((0, module.layers[-1].out_features))

    # ------------------------------------------------------------------ KAN operations
    def refine(self, grid_size):
        """Switch every layer to a finer (or coarser) grid, keeping the learned curves.

        The new splines are least-squares fits of the current ones (exact when
        ``grid_size`` is a multiple of the current size). Continue training with
        ``warm_start=True``.

        Parameters
        ----------
        grid_size : int
            New number of grid intervals.

        Returns
        -------
        self
        """
        check_is_fitted(self, "module_")
        if not isinstance(grid_size, (Integral, np.integer)) or grid_size < 1:
            raise ValueError(f"grid_size must be a positive integer, got {grid_size!r}.")
        module = copy.deepcopy(self.module_)
        module.refine(int(grid_size))
        self.module_ = module
        self._model_changed()
        return self

    def prune(self, node_threshold=1e-2, edge_threshold=3e-2):
        """Remove weak edges and unused hidden nodes (pykan's prune).

        Scores are pykan's attribution scores on (up to 4096 rows of) the training
        data: every output node scores 1 and, going backwards, an edge scores the
        spread of its curve relative to the spread of the node it feeds, times that
        node's score. An edge scoring 0.03 carries about 3 % of what its target node
        passes on. What remains predicts exactly as the network did with the removed
        edges zeroed; formulas, plots and ``feature_importances_`` see the pruned
        network. Train a sparse network first (``lamb`` > 0) for clean results.

        Parameters
        ----------
        node_threshold : float, default=1e-2
            Hidden nodes scoring below this are removed.
        edge_threshold : float, default=3e-2
            Edges scoring below this are masked.

        Returns
        -------
        self
        """
        check_is_fitted(self, "module_")
        for name, value in (("node_threshold", node_threshold), ("edge_threshold", edge_threshold)):
            if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        module = copy.deepcopy(self.module_)
        parameter = next(module.parameters())
        x = self._attribution_data.to(parameter.device, parameter.dtype)
        weight = self._attribution_weight.to(parameter.device, parameter.dtype)
        module.prune(x, node_threshold=node_threshold, edge_threshold=edge_threshold, sample_weight=weight)
        self.module_ = module
        self._model_changed()
        return self

    def __getstate__(self):
        state = dict(super().__getstate__())
        # Pickles load on machines without a GPU: keep tensors on the CPU.
        if "module_" in state and next(state["module_"].parameters()).device.type != "cpu":
            state["module_"] = copy.deepcopy(state["module_"]).cpu()
            state["_inference_module"] = state["module_"]
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


_AUTO_BATCH = 2048

# Plateaus on which Adam's step is divided by 5 before training stops (measured on
# California Housing: a second drop cost 15 % more epochs for +0.002 R^2).
_LR_DROPS = 1
