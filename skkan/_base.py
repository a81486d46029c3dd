"""Shared machinery of :class:`~skkan.KANRegressor` and :class:`~skkan.KANClassifier`."""

import contextlib
import copy
import functools
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ._optim import make_optimizer
from ._preprocessing import InputScaler, check_numeric_columns
from ._progress import Progress
from ._training import Trainer, TrainingData, chunk_rows_for
from .nn import KAN

__all__ = ["BaseKAN"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

# Below this many (batch rows x edges x basis functions) per step, one thread is
# faster than two: per-op overhead dominates and a second thread only synchronises.
_SINGLE_THREAD_WORK = 2_000_000

_PREDICT_CHUNK = 16_384


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


_THREADPOOLS = []


def _thread_limits(limit):
    """``threadpool_limits(limit)`` with the thread pools looked up once per process.

    Finding the pools reads the process's loaded libraries (about 15 ms), which
    would dominate a ``partial_fit`` call on a small chunk. ``None``: no limit.
    """
    if limit is None:
        return contextlib.nullcontext()
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=limit)


class BaseKAN(BaseEstimator, metaclass=ABCMeta):
    """Base class for KAN estimators; use :class:`KANRegressor` or :class:`KANClassifier`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [StrOptions({"auto"}), "array-like", Interval(Integral, 1, None, closed="left")],
        "grid_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "spline_order": [Interval(Integral, 1, None, closed="left")],
        "grid_eps": [Interval(Real, 0, 1, closed="both")],
        "lamb": [Interval(Real, 0, None, closed="left")],
        "lamb_l1": [Interval(Real, 0, None, closed="left")],
        "lamb_entropy": [Interval(Real, 0, None, closed="left")],
        "lamb_coef": [Interval(Real, 0, None, closed="left")],
        "lamb_coefdiff": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "lbfgs"})],
        "learning_rate_init": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
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
    # What a subclass provides: its targets, loss and score, and how its outputs map
    # to formulas. Everything else (fit, partial_fit, training, pruning, formulas) is
    # written once here.
    @abstractmethod
    def _prepare_targets(self, y, sample_weight, reset, classes=None):
        """Validate ``y``; return (training targets as array, n_outputs, target state)."""

    @abstractmethod
    def _set_target_state(self, state):
        """Store the target state returned by :meth:`_prepare_targets` as fitted attributes."""

    @abstractmethod
    def _target_tensor(self, targets, device, dtype):
        """Training targets as the tensor :meth:`_loss` expects."""

    @abstractmethod
    def _loss(self, output, target, weight):
        """Weighted mean training loss of a batch (a scalar tensor)."""

    @abstractmethod
    def _validation_score(self, output, target, weight):
        """Score (higher is better) of network outputs on the validation split."""

    @abstractmethod
    def _split_stratify(self, y):
        """Labels to stratify the validation split on (or None)."""

    @abstractmethod
    def _formula_output_transform(self):
        """(scale, offset) arrays mapping network outputs to formula outputs."""

    @abstractmethod
    def _package_formulas(self, expressions):
        """The public formula (expression, list or dict) from one expression per output."""

    @abstractmethod
    def _unpackage_formulas(self, formula):
        """One expression per network output from a public formula."""

    @abstractmethod
    def _shape_formula_output(self, values):
        """Formula values (n_samples, n_outputs) in the shape ``predict`` gives."""

    @abstractmethod
    def _unshape_formula_output(self, values):
        """Inverse of :meth:`_shape_formula_output`."""

    # ------------------------------------------------------------------ helpers
    def _torch_dtype(self):
        return _DTYPES[self.dtype]

    @abstractmethod
    def _auto_capacity(self, n_samples, n_features):
        """``(hidden_layer_sizes, grid_size)`` that ``"auto"`` resolves to for this data size."""

    def _capacity(self, n_samples, n_features):
        """The hidden layer sizes (a list) and grid size this fit uses, ``"auto"`` resolved."""
        auto_sizes, auto_grid = self._auto_capacity(n_samples, n_features)
        grid_size = auto_grid if isinstance(self.grid_size, str) else int(self.grid_size)
        if isinstance(self.hidden_layer_sizes, str):
            return list(auto_sizes), grid_size
        return self._hidden_sizes(), grid_size

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (Integral, np.integer)):
            return [int(sizes)]
        sizes = [int(s) for s in sizes]
        if any(s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes}.")
        return sizes

    def _scale_inputs(self, X):
        """Scale and clip raw ``X`` as in training (see :class:`InputScaler`)."""
        return self._input_scaler().transform(X)

    def _to_tensor(self, array, device, dtype):
        return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)

    def _thread_limit(self, rows, module):
        work = rows * sum(layer.coef.numel() for layer in module.layers)
        return 1 if work < _SINGLE_THREAD_WORK else None

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` (raw features) and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw features: the estimator scales them itself (robustly, see the user
            guide), so no scaler is needed in front.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets (class labels for classifiers).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight acts like repeating the sample.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _validate_training_data(self, X, y, sample_weight, reset):
        check_numeric_columns(X)
        # float32 input stays float32 (no full float64 copy); batches are scaled in float64.
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float64, np.float32],
            order="C",
            multi_output=self._multi_output_allowed,
            y_numeric=self._y_numeric,
        )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight must have at least one positive entry.")
        return X, y, sample_weight

    def _trainer(self, module, batch_size):
        dtype = next(module.parameters()).dtype
        return Trainer(
            loss=self._loss,
            objective=self._objective,
            penalty=self._penalty if self.lamb else None,
            validation_score=self._validation_score,
            solver=self.solver,
            batch_size=batch_size,
            chunk_rows=chunk_rows_for(module, dtype),
            grid_eps=self.grid_eps,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
        )

    def _learning_rate(self, n_samples):
        """Adam's initial step size for ``n_samples`` training rows, "auto" resolved."""
        if isinstance(self.learning_rate_init, str):
            return self._auto_learning_rate(n_samples)
        return float(self.learning_rate_init)

    def _auto_learning_rate(self, n_samples):
        """The step size that ``learning_rate_init="auto"`` gives (subclasses refine it)."""
        return _AUTO_LEARNING_RATE

    def _new_optimizer(self, module, learning_rate):
        return make_optimizer(self.solver, module.parameters(), learning_rate, lr_drops=_LR_DROPS)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """``fit`` (``incremental=False``) and ``partial_fit`` (one pass, ``incremental=True``)."""
        fitted = hasattr(self, "module_")
        continuing = fitted and (incremental or self.warm_start)
        X, y, sample_weight = self._validate_training_data(X, y, sample_weight, reset=not continuing)
        targets, n_outputs, target_state = self._prepare_targets(y, sample_weight, reset=not continuing, classes=classes)
        device = resolve_device(self.device)
        dtype = self._torch_dtype()

        rng = check_random_state(self.random_state)
        if incremental and fitted:
            # A different seed for every pass: chunks are shuffled differently.
            rng = np.random.RandomState((check_random_state(self.random_state).randint(2**31 - 1) + self.n_iter_) % (2**31 - 1))
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        if continuing:
            scaler = self._input_scaler()
            module = copy.deepcopy(self.module_).to(device=device, dtype=dtype)
            n_iter, loss_curve = self.n_iter_, list(self.loss_curve_)
        else:
            scaler = InputScaler.fit(X, sample_weight, rng)
            # partial_fit sees one chunk of data of unknown total size: "auto" gives
            # the capacity of large data.
            hidden_sizes, grid_size = self._capacity(np.inf if incremental else X.shape[0], X.shape[1])
            widths = [X.shape[1], *hidden_sizes, n_outputs]
            module = KAN(widths, grid_size=grid_size, spline_order=self.spline_order, generator=generator, dtype=dtype)
            module = module.to(device)
            n_iter, loss_curve = 0, []

        target_tensor = self._target_tensor(targets, torch.device("cpu"), dtype)
        data = TrainingData(X, target_tensor, sample_weight, scaler, dtype, device)
        validation = None
        if self.early_stopping and not incremental:
            from sklearn.model_selection import train_test_split

            stratify = self._split_stratify(targets)
            train_idx, val_idx = train_test_split(
                np.arange(X.shape[0]), test_size=self.validation_fraction, random_state=rng, stratify=stratify
            )
            if len(val_idx) < 2:
                raise ValueError(
                    f"The validation set is too small ({len(val_idx)} samples) for early stopping; "
                    "increase validation_fraction or disable early_stopping."
                )
            data, validation = data.subset(np.sort(train_idx)), data.subset(np.sort(val_idx))

        trainer = self._trainer(module, self._batch_size(len(data)))
        # As for the capacity: partial_fit sees chunks of data of unknown total size
        # and takes the step of large data.
        learning_rate = self._learning_rate(np.inf if incremental else X.shape[0])
        progress = Progress(1 if incremental else self.max_iter, self.verbose, description=type(self).__name__)
        with _thread_limits(self._thread_limit(min(len(data), trainer.batch_size, 4096), module)):
            if incremental:
                passes = self.n_iter_ if fitted else 0
                result = self._partial_pass(trainer, module, data, generator, passes, learning_rate, progress=progress)
            else:
                result = trainer.run(
                    module,
                    functools.partial(self._new_optimizer, learning_rate=learning_rate),
                    data,
                    max_epochs=self.max_iter,
                    generator=generator,
                    grid_update_epochs=set() if continuing else self._grid_update_epochs(),
                    validation=validation,
                    continuing=continuing,
                    progress=progress,
                )

        # Only now, with training done, does the estimator change (no half-fitted state).
        self._set_input_scaler(scaler)
        self._set_target_state(target_state)
        self.module_ = result["module"]
        self.n_iter_ = n_iter + result["n_iter"]
        self.loss_curve_ = loss_curve + result["loss_curve"]
        self.best_loss_ = result["best_loss"] if not incremental else min(self.loss_curve_)
        if validation is not None:
            self.validation_scores_ = result["validation_scores"]
            self.best_validation_score_ = max(result["validation_scores"])
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._optimizer_state = result.get("optimizer_state")
        if not (incremental and fitted):
            # Attribution (feature_importances_, prune) uses up to 4096 evenly spaced
            # rows: the first rows would be a biased sample of data sorted by a column.
            x, _, w = data.batch(data.spread_positions(4096))
            self._attribution_data = x.cpu()
            self._attribution_weight = w.cpu()
        self._model_changed()
        if not incremental and not result["converged"]:
            warnings.warn(
                f"{self.solver} optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _partial_pass(self, trainer, module, data, generator, passes, learning_rate, progress):
        """One pass of ``partial_fit`` after ``passes`` earlier ones, the optimizer resumed.

        The grids follow ``fit``'s warm-up: they are re-fitted to the chunk of the
        calls that come after 0, 1, 3, 7, 15 and 31 passes, then stay.
        """
        first = passes == 0
        if passes in _PARTIAL_GRID_UPDATES:
            trainer.update_grids(module, data, generator)
        optimizer = self._new_optimizer(module, learning_rate)
        state = getattr(self, "_optimizer_state", None)
        if not first and state is not None and hasattr(optimizer, "load_state"):
            optimizer.load_state(state)
        loss = trainer.epoch(module, optimizer, data, generator)
        if not np.isfinite(loss):
            raise ValueError(
                "Training diverged (the loss became non-finite); try a smaller learning_rate_init "
                "or scaling extreme inputs."
            )
        progress.update(passes + 1, loss)
        progress.close()
        module.eval()
        return {
            "module": module,
            "n_iter": 1,
            "loss_curve": [loss],
            "validation_scores": [],
            "best_loss": loss,
            "converged": True,
            "optimizer_state": optimizer.state() if hasattr(optimizer, "state") else None,
        }

    def _input_scaler(self):
        return InputScaler(self._x_mean, self._x_scale, self._x_low, self._x_high)

    def _set_input_scaler(self, scaler):
        self._x_mean, self._x_scale, self._x_low, self._x_high = scaler.center, scaler.scale, scaler.low, scaler.high

    def _grid_update_epochs(self):
        """Epochs before which the grids are re-fitted to the data (pykan: first ~50 steps)."""
        stop = max(1, self.max_iter // 2)
        return {e for e in (0, 1, 3, 7, 15, 31) if e < stop}

    def _batch_size(self, n_samples):
        if self.solver == "lbfgs":
            return n_samples
        if self.batch_size == "auto":
            return self._auto_batch_size(n_samples)
        return min(self.batch_size, n_samples)

    def _auto_batch_size(self, n_samples):
        """Rows per Adam step that ``batch_size="auto"`` gives (subclasses refine it)."""
        return min(n_samples, max(_AUTO_BATCH, min(_AUTO_BATCH_MAX, n_samples // 128)))

    def _objective(self, module, x, target, weight):
        if not self.lamb:
            return self._loss(module(x), target, weight)
        values = module.layer_inputs(x)
        penalty = self._penalty(module, x, weight, layer_inputs=values[:-1])
        return self._loss(values[-1], target, weight) + penalty

    def _penalty(self, module, x, weight, layer_inputs=None):
        return self.lamb * module.regularization(
            x,
            lamb_l1=self.lamb_l1,
            lamb_entropy=self.lamb_entropy,
            lamb_coef=self.lamb_coef,
            lamb_coefdiff=self.lamb_coefdiff,
            sample_weight=weight,
            layer_inputs=layer_inputs,
        )

    # ------------------------------------------------------------------ inference
    def _model_changed(self):
        """Refresh derived state after the network changed (fit, prune, refine, ...)."""
        self._refresh_inference_modules()
        # Attribution scores are computed when first asked for: a partial_fit pass
        # should not pay for them.
        self.__dict__.pop("_attribution_cache", None)

    def _refresh_inference_modules(self):
        """Rebuild the read-only copies of ``module_`` that inference and formulas use.

        ``_cpu_module()`` is always a float64 CPU copy: formulas, plots and
        attribution scores read it, so they do not depend on the device or on how
        rows are batched (float32 matmuls of different shapes round differently).
        Predictions use ``_inference_module``: that same copy when ``module_`` is on
        the CPU, ``module_`` itself on an accelerator (where float32 is the point).
        """
        module = self.module_
        cpu = copy.deepcopy(module).to(device=torch.device("cpu"), dtype=torch.float64)
        cpu.eval()
        self._cpu_inference_module = cpu
        self._inference_module = cpu if next(module.parameters()).device.type == "cpu" else module

    def _cpu_module(self):
        """The fitted network as a float64 CPU copy (never ``module_`` itself)."""
        check_is_fitted(self, "module_")
        if "_cpu_inference_module" not in self.__dict__:
            self._refresh_inference_modules()
        return self._cpu_inference_module

    def _attribution_scores(self):
        """pykan's attribution scores on the stored training rows (see :meth:`prune`), cached."""
        cached = self.__dict__.get("_attribution_cache")
        if cached is None:
            if "module_" not in self.__dict__:
                raise AttributeError(f"This {type(self).__name__} instance is not fitted yet.")
            x = self._attribution_data.to(torch.float64)
            weight = self._attribution_weight.to(torch.float64)
            node_scores, edge_scores = self._cpu_module().attribution(x, sample_weight=weight)
            node_scores = [s.double().cpu().numpy() for s in node_scores]
            edge_scores = [s.double().cpu().numpy() for s in edge_scores]
            total = node_scores[0].sum()
            if not np.isfinite(total) or total <= 0:
                importances = np.full(node_scores[0].shape, 1.0 / node_scores[0].size)
            else:
                importances = node_scores[0] / total
            cached = (node_scores, edge_scores, importances)
            self.__dict__["_attribution_cache"] = cached
        return cached

    @property
    def hidden_layer_sizes_(self):
        """Hidden layer widths of the network now (``"auto"`` resolved, pruning applied)."""
        check_is_fitted(self, "module_")
        return tuple(self.module_.widths[1:-1])

    @property
    def grid_size_(self):
        """Grid intervals of the network now (``refine`` changes it; ``grid_size`` does not)."""
        check_is_fitted(self, "module_")
        return int(self.module_.layers[0].grid_size)

    @property
    def node_scores_(self):
        """Attribution score of every node, layer by layer (inputs first)."""
        return self._attribution_scores()[0]

    @property
    def edge_scores_(self):
        """Attribution score of every edge, one (out, in) array per layer."""
        return self._attribution_scores()[1]

    @property
    def feature_importances_(self):
        """Input node scores normalised to sum to 1."""
        return self._attribution_scores()[2]

    def _forward(self, X):
        """Network output (in the network's internal target space) for raw ``X``, in chunks."""
        check_is_fitted(self, "module_")
        check_numeric_columns(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        module = self._inference_module
        parameter = next(module.parameters())
        scaler = self._input_scaler()
        outputs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                chunk = scaler.transform(X[start : start + _PREDICT_CHUNK])
                outputs.append(module(self._to_tensor(chunk, parameter.device, parameter.dtype)).double().cpu().numpy())
        return np.concatenate(outputs, axis=0) if outputs else np.empty((0, module.layers[-1].out_features))

    # ------------------------------------------------------------------ KAN operations
    def refine(self, grid_size):
        """Switch every layer to a finer (or coarser) grid, keeping the learned curves.

        A post-fit operation, like :meth:`prune`: the new splines are least-squares
        fits of the current ones (exact when ``grid_size`` is a multiple of the
        current size). The ``grid_size`` hyperparameter keeps the value the fit
        started from, so ``get_params``, ``clone`` and a fresh ``fit`` still describe
        the same model; the grid in use is ``grid_size_``. To train on with the finer
        grid, fit again with ``warm_start=True`` (or call ``partial_fit``): continuing
        keeps the starting parameters if training does not improve the training
        objective, so it never leaves a worse fit.

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

    # ------------------------------------------------------------------ symbolic
    def auto_symbolic(
        self,
        X=None,
        y=None,
        library=None,
        r2_threshold=0.9,
        weight_simple=0.5,
        sample_weight=None,
        max_iter=200,
    ):
        """Snap every active edge to the best function of a symbolic library.

        Each edge's learned curve is sampled over the range its inputs took in
        training and fitted by ``c * f(a * x + b) + d`` for every candidate ``f`` (a
        grid search over ``a, b`` with ``c, d`` in closed form, then Levenberg-
        Marquardt on all four). Candidates are ranked as in pykan,
        ``weight_simple * complexity + (1 - weight_simple) * log2(1 - R^2)``; the best
        one with ``R^2 >= r2_threshold`` replaces the spline, otherwise the edge stays
        a spline. Given ``X, y``, all remaining parameters (the affine parameters of
        the symbolic edges, the splines left, the biases) are then retrained on them
        with L-BFGS in float64, so predictions fit the data again and constants
        settle on their exact values. Edges already symbolic are kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data to retrain on (raw features, as for :meth:`fit`).
        y : array-like, default=None
            Targets of ``X``; required with ``X``.
        library : None, str, sequence or dict, default=None
            Candidate functions: None is all of :data:`skkan.symbolic.LIBRARY`
            (x, x^2, x^3, x^4, 1/x, 1/x^2, x+1/x, sqrt, exp, log, sin, cos, tan, tanh,
            abs, arctan, arcsin, gaussian, 0); otherwise names of those, or your own
            :class:`skkan.symbolic.SymbolicFunction` objects or ``{name: sympy
            expression in x}`` (see :func:`skkan.symbolic.make_library`).
        r2_threshold : float, default=0.9
            Edges whose best fit has a lower R^2 stay splines (they appear as
            ``spline_l_j_i(...)`` in :meth:`get_formula`). Lower it (down to 0, or
            below) to snap every edge: ``"0"`` (R^2 = 0) then competes too, which is
            how pykan's formulas collapse to constants.
        weight_simple : float in [0, 1], default=0.5
            Weight of simplicity against fit quality in the ranking: at 0.5 one more
            unit of complexity must halve the residual. pykan uses 0.8, which prefers
            ``x`` to an ``exp`` that fits a coarse spline with R^2 = 0.99.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the retraining samples.
        max_iter : int, default=200
            Maximum L-BFGS iterations of the final retraining (at most 100 between
            layers). Retraining uses at most 4096 rows of ``X`` (a random subset,
            seeded by ``random_state``, beyond that).

        Returns
        -------
        self
        """
        from . import symbolic

        check_is_fitted(self, "module_")
        if not isinstance(r2_threshold, Real) or not r2_threshold <= 1:
            raise ValueError(f"r2_threshold must be a number <= 1, got {r2_threshold!r}.")
        if not isinstance(weight_simple, Real) or not 0 <= weight_simple <= 1:
            raise ValueError(f"weight_simple must be in [0, 1], got {weight_simple!r}.")
        if not isinstance(max_iter, (Integral, np.integer)) or max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}.")
        if (X is None) != (y is None):
            raise ValueError("auto_symbolic needs both X and y to retrain, or neither.")
        entries = symbolic.make_library(library)
        retrain_data = None
        if X is not None:
            X, y = validate_data(
                self, X, y, reset=False, dtype=np.float64, multi_output=self._multi_output_allowed, y_numeric=self._y_numeric
            )
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight must have at least one positive entry.")
            targets, _, _ = self._prepare_targets(y, sample_weight, reset=False)
            X_scaled = self._scale_inputs(X)
            if len(X_scaled) > _RETRAIN_ROWS:
                # Full-batch L-BFGS in float64 costs one pass over the data per step: a
                # random subset is plenty for the few parameters left to settle.
                rows = np.sort(check_random_state(self.random_state).choice(len(X_scaled), _RETRAIN_ROWS, replace=False))
                X_scaled, targets, sample_weight = X_scaled[rows], targets[rows], sample_weight[rows]
            retrain_data = (X_scaled, targets, sample_weight)

        from .symbolic._snapping import retrain, snap_network

        work = copy.deepcopy(self._inference_module).to(device="cpu", dtype=torch.float64)
        refit = None
        if retrain_data is not None:
            x = torch.as_tensor(np.ascontiguousarray(retrain_data[0]), dtype=torch.float64)
            target = self._target_tensor(retrain_data[1], torch.device("cpu"), torch.float64)
            weight = torch.as_tensor(retrain_data[2], dtype=torch.float64)
            threads = self._thread_limit(len(x), work)

            def retrain_on_data(module, iterations):
                retrain(module, x, lambda output: self._loss(output, target, weight), iterations, threads)

            refit = retrain_on_data

        records = snap_network(
            work,
            self._attribution_data.to(torch.float64),
            entries,
            r2_threshold,
            weight_simple,
            refit=refit,
            max_iter=max_iter,
            refit_first=self.lamb > 0,
        )
        parameter = next(self.module_.parameters())
        self.module_ = work.to(device=parameter.device, dtype=parameter.dtype)
        self.symbolic_fits_ = records
        self._model_changed()
        return self

    def _check_edge(self, layer, out, in_):
        check_is_fitted(self, "module_")
        layers = self.module_.layers
        for name, value in (("layer", layer), ("out", out), ("in_", in_)):
            if not isinstance(value, (Integral, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, got {value!r}.")
        if not 0 <= layer < len(layers):
            raise IndexError(f"layer must be in [0, {len(layers) - 1}], got {layer}.")
        width_out, width_in = layers[layer].out_features, layers[layer].in_features
        if not (0 <= out < width_out and 0 <= in_ < width_in):
            raise IndexError(f"Edge ({out}, {in_}) is outside layer {layer}, which is {width_out} x {width_in}.")
        if not layers[layer].mask[out, in_] > 0:
            raise ValueError(f"Edge ({layer}, {out}, {in_}) was pruned.")
        return int(layer), int(out), int(in_)

    def suggest_symbolic(self, layer, out, in_, library=None, weight_simple=0.5):
        """Candidate functions for one edge, best first (pykan's ``suggest_symbolic``).

        Every function of ``library`` is fitted as ``c * f(a * x + b) + d`` to the
        edge's current curve over the range its inputs took in training (standardised
        units for the first layer) and ranked as in :meth:`auto_symbolic`. The model is
        not changed.

        Parameters
        ----------
        layer, out, in_ : int
            The edge: layer index, its output node and its input node.
        library : None, sequence or dict, default=None
            As in :meth:`auto_symbolic`.
        weight_simple : float in [0, 1], default=0.5

        Returns
        -------
        pandas.DataFrame
            One row per candidate: ``function``, ``r2``, ``complexity``, ``score``
            (lower is better) and the fitted ``a, b, c, d``.
        """
        import pandas as pd

        from .symbolic._snapping import suggest_edge

        layer, out, in_ = self._check_edge(layer, out, in_)
        work = copy.deepcopy(self._inference_module).to(device="cpu", dtype=torch.float64)
        rows = suggest_edge(work, self._attribution_data.to(torch.float64), layer, out, in_, library, weight_simple)
        return pd.DataFrame(rows, columns=["function", "r2", "complexity", "score", "a", "b", "c", "d"])

    def fix_symbolic(self, layer, out, in_, function):
        """Set one edge to a function by hand (pykan's ``fix_symbolic``).

        ``a, b, c, d`` of ``c * f(a * x + b) + d`` are fitted to the edge's current
        curve; they are trained further by :meth:`auto_symbolic` with data or a
        ``warm_start`` fit. :meth:`unfix_symbolic` gives the edge its spline back.

        Parameters
        ----------
        layer, out, in_ : int
            The edge: layer index, its output node and its input node.
        function : str, SymbolicFunction or dict
            A name of :data:`skkan.symbolic.LIBRARY`, a
            :class:`skkan.symbolic.SymbolicFunction`, or ``{name: sympy expression}``.

        Returns
        -------
        self
        """
        from .symbolic._snapping import fix_edge

        layer, out, in_ = self._check_edge(layer, out, in_)
        work = copy.deepcopy(self._inference_module).to(device="cpu", dtype=torch.float64)
        r2 = fix_edge(work, self._attribution_data.to(torch.float64), layer, out, in_, function)
        name = work.layers[layer].symbolic_functions[(out, in_)].name
        parameter = next(self.module_.parameters())
        self.module_ = work.to(device=parameter.device, dtype=parameter.dtype)
        records = [
            r for r in getattr(self, "symbolic_fits_", []) if (r["layer"], r["output"], r["input"]) != (layer, out, in_)
        ]
        records.append({"layer": layer, "output": out, "input": in_, "function": name, "r2": r2, "candidates": [(name, r2)]})
        self.symbolic_fits_ = records
        self._model_changed()
        return self

    def unfix_symbolic(self, layer, out, in_):
        """Give one symbolic edge its spline curve back (pykan's ``unfix_symbolic``).

        The spline is the one the edge had before it was snapped; retrain
        (``warm_start=True``) for it to follow what changed since.

        Returns
        -------
        self
        """
        layer, out, in_ = self._check_edge(layer, out, in_)
        if (out, in_) not in self.module_.layers[layer].symbolic_functions:
            raise ValueError(f"Edge ({layer}, {out}, {in_}) is not symbolic.")
        module = copy.deepcopy(self.module_)
        module.layers[layer].clear_symbolic(out, in_)
        self.module_ = module
        self.symbolic_fits_ = [
            r for r in getattr(self, "symbolic_fits_", []) if (r["layer"], r["output"], r["input"]) != (layer, out, in_)
        ]
        self._model_changed()
        return self

    def _formula_symbols(self):
        from .symbolic._formula import estimator_symbols

        return estimator_symbols(self)

    def _formula_expressions(self, precision):
        from .symbolic._formula import build_formulas

        check_is_fitted(self, "module_")
        if precision is not None and (not isinstance(precision, (Integral, np.integer)) or precision < 0):
            raise ValueError(f"precision must be a non-negative integer or None, got {precision!r}.")
        from .symbolic._simplify import expand_exactly

        out_scale, out_offset = self._formula_output_transform()
        symbols = self._formula_symbols()
        expressions, spline_edges = build_formulas(
            self._cpu_module(),
            self._attribution_data.to(torch.float64),
            symbols,
            self._x_mean,
            self._x_scale,
            self._x_low,
            self._x_high,
            out_scale,
            out_offset,
            precision,
        )
        # Polynomial parts expanded when that is shorter and equal at the precision
        # (a difference of squares prints as x0*x1); nothing is refitted.
        rows = self._attribution_data.double().numpy() * self._x_scale + self._x_mean
        return [expand_exactly(e, symbols, rows, precision) for e in expressions], spline_edges

    def get_formula(self, precision=4):
        """The fitted model as sympy, in the original units of inputs and targets.

        Input standardisation and target scaling are folded into the constants;
        symbols are named after ``feature_names_in_`` (made valid identifiers) or
        ``x0, x1, ...``. Constants are rounded to ``precision`` decimals (or
        ``precision`` significant digits, whichever keeps more) and additive constants
        and terms below ``0.5 * 10**-precision`` of what they are added to (over the
        training rows) are dropped; polynomial parts are expanded and collected when
        that gives a shorter formula equal at this precision (``x0*x1`` rather than a
        difference of squares). No slow ``simplify`` is run, and nothing is refitted:
        the formula is the network. The model is not changed.

        Edges that are still splines (not snapped by :meth:`auto_symbolic`) appear as
        functions ``spline_<layer>_<out>_<in>(argument)`` carrying a numeric
        implementation, so ``sympy.lambdify`` still evaluates the formula exactly;
        a warning names them. The formula does not clip inputs, which
        :meth:`predict` does beyond the training range.

        Parameters
        ----------
        precision : int or None, default=4
            Decimals kept; None keeps full precision and every constant.

        Returns
        -------
        sympy.Expr, list or dict
            Regressor: one expression (a list for multi-output). Classifier: a dict
            ``class label -> expression`` of that class's decision score (for two
            classes the first class scores 0), so the predicted class is the argmax.
        """
        expressions, spline_edges = self._formula_expressions(precision)
        if spline_edges:
            from .symbolic._formula import spline_name

            names = ", ".join(spline_name(*edge) for edge in spline_edges[:10])
            more = f" and {len(spline_edges) - 10} more" if len(spline_edges) > 10 else ""
            warnings.warn(
                f"{len(spline_edges)} edge(s) are still splines and appear in the formula as "
                f"placeholder functions: {names}{more}. They evaluate through sympy.lambdify "
                "but are not closed-form; call auto_symbolic (with a lower r2_threshold) to "
                "replace them.",
                UserWarning,
                stacklevel=2,
            )
        return self._package_formulas(expressions)

    def evaluate_formula(self, X, formula=None):
        """Evaluate a formula of this model on ``X`` (arrays or DataFrames).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw features, as for :meth:`predict`.
        formula : sympy.Expr, list or dict, default=None
            As returned by :meth:`get_formula` (possibly edited); None uses
            ``get_formula()``.

        Returns
        -------
        ndarray
            Shaped like :meth:`predict` (regressor) or :meth:`decision_function`
            (classifier).
        """
        import sympy

        check_is_fitted(self, "module_")
        if formula is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                formula = self.get_formula()
        X = validate_data(self, X, reset=False, dtype=np.float64)
        symbols = self._formula_symbols()
        expressions = self._unpackage_formulas(formula)
        unknown = set().union(*(sympy.sympify(e).free_symbols for e in expressions)) - set(symbols)
        if unknown:
            raise ValueError(f"The formula has symbols that are not features of this model: {sorted(map(str, unknown))}.")
        columns = []
        for expression in expressions:
            function = sympy.lambdify(symbols, expression, modules="numpy")
            with np.errstate(all="ignore"):
                values = np.asarray(function(*X.T), dtype=np.float64)
            columns.append(np.broadcast_to(values, (X.shape[0],)))
        return self._shape_formula_output(np.column_stack(columns) if columns else np.empty((X.shape[0], 0)))

    def formula_report(self, X=None, precision=4):
        """How faithful the formula is to the network, and what is still a spline.

        Parameters
        ----------
        X : array-like, default=None
            Rows to compare on; None uses (up to 4096 evenly spaced) training rows.
        precision : int or None, default=4
            As in :meth:`get_formula`.

        Returns
        -------
        skkan.FormulaReport
            ``formula``, ``r2`` (formula against the network's outputs, per output),
            ``max_abs_error``, ``spline_edges`` (names of the edges still splines),
            ``symbolic_edges`` (what :meth:`auto_symbolic` chose, with R^2),
            ``n_outside_range`` and ``max_abs_error_in_range``.

        Notes
        -----
        :meth:`predict` clips every feature to the range it took in training; the
        formula does not (it is meant to be read and to extrapolate as written). Rows
        of ``X`` with a feature outside that range are compared as they are, and
        counted in ``n_outside_range``: a large ``max_abs_error`` beside an R^2 near
        1 usually comes from them, and ``max_abs_error_in_range`` gives the error on
        the remaining rows.
        """
        from .symbolic._formula import FormulaReport, spline_name

        check_is_fitted(self, "module_")
        training_rows = X is None
        if X is None:
            X = self._attribution_data.double().numpy() * self._x_scale + self._x_mean
            if hasattr(self, "feature_names_in_"):
                import pandas as pd

                X = pd.DataFrame(X, columns=self.feature_names_in_)
        expressions, spline_edges = self._formula_expressions(precision)
        formula = self._package_formulas(expressions)
        out_scale, out_offset = self._formula_output_transform()
        network = self._forward(X) * out_scale + out_offset
        approx = self._unshape_formula_output(self.evaluate_formula(X, formula))
        residual = ((approx - network) ** 2).sum(0)
        total = ((network - network.mean(0)) ** 2).sum(0)
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
        error = np.abs(approx - network)
        # Training rows are in range by construction (stored in the network's dtype,
        # float32 rounding may put them a last bit beyond it).
        outside = np.zeros(len(error), dtype=bool) if training_rows else self._outside_training_range(X)
        inside = error[~outside]
        return FormulaReport(
            formula=formula,
            r2=r2,
            max_abs_error=error.max(0) if len(error) else np.zeros(network.shape[1]),
            spline_edges=[spline_name(*edge) for edge in spline_edges],
            symbolic_edges=list(getattr(self, "symbolic_fits_", [])),
            n_outside_range=int(outside.sum()),
            max_abs_error_in_range=inside.max(0) if len(inside) else np.zeros(network.shape[1]),
        )

    def _outside_training_range(self, X):
        """Rows of raw ``X`` that :meth:`predict` clips (a feature beyond the training range)."""
        X = validate_data(self, X, reset=False, dtype=np.float64)
        standardised = (X - self._x_mean) / self._x_scale
        return np.any(self._scale_inputs(X) != standardised, axis=1)

    def plot(self, ax=None, n_points=100, beta=3.0, input_names=None, output_names=None, title=None):
        """Draw the network as pykan does: nodes, and every edge with its learned curve.

        Inputs are at the bottom, outputs at the top; each edge's curve is drawn over
        the range its inputs took in training. Edges fade with their attribution
        score (opacity ``tanh(beta * score)``), pruned edges are left almost
        transparent, and symbolic edges are red and titled with their function (at
        full opacity, so the name stays legible on a faded edge). The default
        figure grows with the widest layer and the depth. Drawn from a float64 CPU
        copy of the network, whatever ``device`` it was trained on.
        Needs matplotlib (``pip install 'skkan[plot]'``).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure sized to the network when None.
        n_points : int, default=100
            Points per curve.
        beta : float, default=3.0
            Opacity scale of the attribution scores.
        input_names, output_names : list of str, default=None
            Labels of the input and output nodes. Inputs default to
            ``feature_names_in_`` or ``x0, x1, ...``; outputs to the class names
            (classifier; with two classes the one output is the second class's
            logit) or ``y`` / ``y0, y1, ...`` (regressor).
        title : str, default=None

        Returns
        -------
        matplotlib Axes
        """
        from ._plot import plot_network

        check_is_fitted(self, "module_")
        return plot_network(
            self, ax=ax, n_points=n_points, beta=beta, input_names=input_names, output_names=output_names, title=title
        )

    def __getstate__(self):
        """The estimator's state as numpy arrays and plain python values.

        Pickle, joblib and ``skops.io`` files hold no torch objects: every fitted
        :class:`skkan.nn.KAN` attribute becomes :meth:`skkan.nn.KAN.to_state` (a dict
        of numpy arrays and plain values) and every tensor attribute a numpy array;
        the derived inference copies are dropped. ``_skkan_state`` records the format
        version and which attributes to turn back into modules and tensors.
        """
        state = dict(super().__getstate__())
        for derived in _DERIVED_ATTRIBUTES:
            state.pop(derived, None)
        modules, tensors = [], []
        for key, value in list(state.items()):
            if isinstance(value, KAN):
                state[key] = value.to_state()
                modules.append(key)
            elif isinstance(value, torch.Tensor):
                state[key] = value.detach().cpu().numpy().copy()
                tensors.append(key)
        state["_skkan_state"] = {"version": _STATE_VERSION, "modules": modules, "tensors": tensors}
        return state

    def __setstate__(self, state):
        """Rebuild the networks on the CPU, then move them to ``device`` if it is there.

        Reads this version's format and the older pickles that stored torch modules
        directly (skkan 0.1.0 before this format). A CUDA model
        loaded where CUDA is unavailable stays on the CPU and predicts there.
        """
        state = dict(state)
        info = state.pop("_skkan_state", None)
        if info is None:
            module = state.get("module_")
            if module is not None and not isinstance(module, KAN):
                raise ValueError(
                    f"Cannot load this {type(self).__name__}: its module_ is a {type(module).__name__}, "
                    "not a skkan.nn.KAN; the file is not a skkan model or is damaged."
                )
        else:
            version = info.get("version") if isinstance(info, dict) else None
            if not isinstance(version, int) or version > _STATE_VERSION:
                raise ValueError(
                    f"This {type(self).__name__} was saved in state format {version!r}; this skkan "
                    f"reads formats up to {_STATE_VERSION}. Upgrade skkan to load it."
                )
            for key in info.get("modules", ()):
                state[key] = KAN.from_state(state[key])
            for key in info.get("tensors", ()):
                state[key] = torch.from_numpy(np.array(state[key], copy=True))
        for derived in _DERIVED_ATTRIBUTES:
            state.pop(derived, None)
        super().__setstate__(state)
        if "module_" in self.__dict__:
            self.module_ = self.module_.to(_loading_device(self.device))
            self._refresh_inference_modules()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


_AUTO_BATCH = 2048

# Adam's step size of learning_rate_init="auto" where a subclass does not refine it.
_AUTO_LEARNING_RATE = 0.03

# Passes of partial_fit after which the grids are re-fitted to the chunk (fit's epochs).
_PARTIAL_GRID_UPDATES = frozenset({0, 1, 3, 7, 15, 31})
_AUTO_BATCH_MAX = 8192

# Format of __getstate__ (version 1: networks as KAN.to_state, tensors as numpy).
_STATE_VERSION = 1

# Rebuilt from module_ after loading, never saved.
_DERIVED_ATTRIBUTES = ("_inference_module", "_cpu_inference_module", "_attribution_cache")


def _loading_device(device):
    """Where a loaded network goes: ``device`` if it exists on this machine, else the CPU."""
    try:
        return resolve_device(device)
    except (ValueError, RuntimeError):
        return torch.device("cpu")

# Rows auto_symbolic retrains on (a random subset of larger data).
_RETRAIN_ROWS = 4096

# Plateaus on which Adam's step is divided by 5 before training stops (measured on
# California Housing: a second drop cost 15 % more epochs for +0.002 R^2).
_LR_DROPS = 1
