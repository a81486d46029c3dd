"""The estimator side of :class:`~skkan.KANRegressor` and :class:`~skkan.KANClassifier`.

:class:`BaseKAN` holds the hyperparameters and the fitted state and checks the
inputs; everything else is delegated: training to :mod:`skkan._training`, the task
(targets, loss, score, units) to a target object of :mod:`skkan._targets`, pruning,
snapping and formulas to :mod:`skkan._operations` and :mod:`skkan._symbolic_methods`, plots to
:mod:`skkan._plot`, saving to :mod:`skkan._persistence`. A subclass names its target
type and provides ``predict``.
"""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _operations
from ._additive import check_interactions, plan_interactions
from ._persistence import dump_state, load_state
from ._preprocessing import InputScaler, check_numeric_columns
from ._symbolic_methods import SymbolicMethods
from ._term_methods import TermMethods
from ._training import DTYPES, PreviousFit, TrainingConfig, resolve_device, train

__all__ = ["BaseKAN"]

_PREDICT_CHUNK = 16_384

# Rebuilt from module_ when needed, never saved (the older names too, for old files).
_DERIVED_ATTRIBUTES = (
    "_float64_copy", "_attribution_cache", "_term_layout_cache", "_inference_module", "_cpu_inference_module"
)


def _nonnegative(name, value):
    if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")


class BaseKAN(SymbolicMethods, TermMethods, BaseEstimator):
    """Base class for KAN estimators; use :class:`KANRegressor` or :class:`KANClassifier`."""

    #: The target object type of the task (:mod:`skkan._targets`).
    _target_type = None

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [StrOptions({"auto"}), "array-like", Interval(Integral, 1, None, closed="left")],
        "interactions": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left"), "array-like"],
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
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(DTYPES))],
    }

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

    def _check_data(self, X, y, sample_weight, reset, dtype=(np.float64, np.float32)):
        check_numeric_columns(X)
        # float32 input stays float32 (no full float64 copy); batches are scaled in float64.
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=list(dtype),
            order="C",
            multi_output=self._target_type.multi_output,
            y_numeric=self._target_type.y_numeric,
        )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight must have at least one positive entry.")
        return X, y, sample_weight

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """``fit`` (``incremental=False``) and ``partial_fit`` (one pass, ``incremental=True``)."""
        if self._target_type is None:
            raise TypeError(f"{type(self).__name__} names no target type; use KANRegressor or KANClassifier.")
        fitted = hasattr(self, "module_")
        continuing = fitted and (incremental or self.warm_start)
        X, y, sample_weight = self._check_data(X, y, sample_weight, reset=not continuing)
        targets = self._targets.continued(y) if continuing else self._target_type.fit(y, sample_weight, classes=classes)
        encoded = targets.encode(y)
        params = self.get_params()
        params["interactions"] = check_interactions(
            params["interactions"], params["hidden_layer_sizes"], X.shape[1], getattr(self, "feature_names_in_", None)
        )
        config = TrainingConfig.from_params(params, targets, np.inf if incremental else X.shape[0], X.shape[1])
        previous = None
        if not continuing and params["interactions"]:
            config, _ = plan_interactions(X, encoded, sample_weight, config, params["interactions"], self.random_state)
        if continuing:
            state = getattr(self, "_optimizer_state", None)
            previous = PreviousFit(self.module_, self._input_scaler(), self.n_iter_, self.loss_curve_, state)
        result = train(
            X, encoded, sample_weight, config, self.random_state,
            previous=previous, incremental=incremental, description=type(self).__name__,
        )
        # Only now, with training done, does the estimator change (no half-fitted state).
        if not continuing:
            # What auto_symbolic recorded describes the network this fit replaces.
            for stale in ("symbolic_fits_", "snapping_scores_"):
                self.__dict__.pop(stale, None)
        scaler = result.scaler
        self._x_mean, self._x_scale, self._x_low, self._x_high = scaler.center, scaler.scale, scaler.low, scaler.high
        self._targets = targets
        for name, value in targets.fitted_attributes().items():
            setattr(self, name, value)
        self.module_ = result.module
        self.n_iter_, self.loss_curve_, self.best_loss_ = result.n_iter, result.loss_curve, result.best_loss
        self.validation_scores_ = result.validation_scores
        self.best_validation_score_ = max(result.validation_scores) if result.validation_scores else None
        self._optimizer_state = result.optimizer_state
        if result.attribution is not None:
            self._attribution_data, self._attribution_weight = result.attribution
        self._model_changed()
        if not incremental and not result.converged:
            warnings.warn(
                f"{self.solver} optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # _fit < fit < scikit-learn's fit wrapper < the caller
            )
        return self

    # ------------------------------------------------------------------ fitted state
    def _input_scaler(self):
        return InputScaler(self._x_mean, self._x_scale, self._x_low, self._x_high)

    def _scale_inputs(self, X):
        """Scale and clip raw ``X`` as in training (see :class:`InputScaler`)."""
        return self._input_scaler().transform(X)

    def _network(self):
        """The fitted network with its scaling, targets and training rows."""
        check_is_fitted(self, "module_")
        return _operations.FittedNetwork(
            self.module_, self._input_scaler(), self._targets, self._attribution_data, self._attribution_weight
        )

    def _model_changed(self, module=None):
        """Take ``module`` as the network (if given) and rebuild what derives from it.

        The float64 CPU copy is made here, not on first use, so that ``predict``
        leaves the estimator unchanged; attribution scores are computed when first
        asked for (a ``partial_fit`` pass should not pay for them).
        """
        if module is not None:
            self.module_ = module
        for derived in _DERIVED_ATTRIBUTES:
            self.__dict__.pop(derived, None)
        self._float64_copy = self._network().cpu64()

    def _float64_module(self):
        """The network as a float64 CPU copy (never ``module_`` itself).

        Formulas, plots, attribution scores and CPU predictions read it, so they do not
        depend on the device or on how rows are batched (float32 matmuls of different
        shapes round differently).
        """
        check_is_fitted(self, "module_")
        return self._float64_copy

    def _attribution_scores(self):
        """pykan's attribution scores on the stored training rows (see :meth:`prune`), cached."""
        if "module_" not in self.__dict__:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet.")
        if "_attribution_cache" not in self.__dict__:
            self.__dict__["_attribution_cache"] = _operations.attribution_scores(self._network(), self._float64_module())
        return self.__dict__["_attribution_cache"]

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
        # On an accelerator the trained module predicts (float32 is the point there).
        on_cpu = next(self.module_.parameters()).device.type == "cpu"
        module = self._float64_module() if on_cpu else self.module_
        parameter = next(module.parameters())
        scaler = self._input_scaler()
        outputs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                chunk = np.ascontiguousarray(scaler.transform(X[start : start + _PREDICT_CHUNK]))
                x = torch.as_tensor(chunk, dtype=parameter.dtype, device=parameter.device)
                outputs.append(module(x).double().cpu().numpy())
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
        self._model_changed(module)
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
        _nonnegative("node_threshold", node_threshold)
        _nonnegative("edge_threshold", edge_threshold)
        self._model_changed(_operations.prune(self._network(), node_threshold, edge_threshold))
        return self

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
        if input_names is None:
            input_names = list(getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]))
        return plot_network(
            self._float64_module(),
            self._attribution_data.to(torch.float64),
            self.edge_scores_,
            input_names=input_names,
            output_names=output_names if output_names is not None else self._targets.output_names(),
            ax=ax,
            n_points=n_points,
            beta=beta,
            title=title,
        )

    # ------------------------------------------------------------------ saving
    def __getstate__(self):
        """The estimator's state as numpy arrays and plain python values.

        Pickle, joblib and ``skops.io`` files hold no torch objects (see
        :mod:`skkan._persistence`); the derived float64 copy is dropped.
        """
        state = dict(super().__getstate__())
        for derived in _DERIVED_ATTRIBUTES:
            state.pop(derived, None)
        return dump_state(state)

    def __setstate__(self, state):
        """Rebuild the network on the CPU, then move it to ``device`` if it is there.

        Reads this version's format and the earlier ones. A CUDA model loaded where
        CUDA is unavailable stays on the CPU and predicts there.
        """
        state = load_state(state, type(self).__name__)
        for derived in _DERIVED_ATTRIBUTES:
            state.pop(derived, None)
        # Files saved before interactions existed describe models without pairs.
        state.setdefault("interactions", 0)
        super().__setstate__(state)
        if "module_" in self.__dict__:
            try:
                device = resolve_device(self.device)
            except (ValueError, RuntimeError):
                device = torch.device("cpu")
            self._model_changed(self.module_.to(device))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
