"""KAN classifier."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context

from ._base import BaseKAN
from ._targets import ClassificationTargets

__all__ = ["KANClassifier"]


class KANClassifier(ClassifierMixin, BaseKAN):
    """Kolmogorov-Arnold network classifier.

    The network outputs one decision score per class (a single score for two
    classes), trained with the (sigmoid or softmax) cross-entropy. Inputs are
    standardised and every grid adapts to the quantiles of the data it sees, so raw
    features work without a scaler. Labels may be of any type (strings too).

    Parameters
    ----------
    hidden_layer_sizes : "auto" or array-like of int, default="auto"
        Widths of the hidden layers. ``()`` is a single KAN layer inputs -> class
        scores: every class score is a sum of one learned curve per feature
        (accurate and directly readable on tabular data such as Iris); with two
        classes (and neither ``early_stopping=True``, ``lamb > 0``, ``warm_start``
        continuing nor ``partial_fit``) it is fitted directly by penalised logistic
        regression, the penalty chosen by approximate leave-one-out, or with a
        smoothing penalty per input chosen by marginal likelihood where approximate
        leave-one-out prefers that (``n_iter_`` is 1). Hidden layers model interactions between features. ``"auto"``: one hidden layer of 32
        nodes from 500 training rows (and in ``partial_fit``); below, ``()`` under
        100 training rows per feature, where hidden curves fit the noise, else one
        hidden layer of ``min(2 * n_features + 1, 16)`` nodes. With two classes,
        early stopping and ``grid_size="auto"``, that network's logits are averaged
        with those of the additive model fitted by penalised logistic regression
        (Newton's method, a ridge penalty on every curve chosen by approximate
        leave-one-out cross-entropy on the training rows, on the network's first
        grid) unless the network alone has a significantly lower calibrated
        log-loss on the validation rows (one-sided paired test at 5 %): the averaged
        network has one hidden node per feature more, carrying the additive curves
        (``hidden_layer_sizes_`` says which was kept).
    interactions : 0, int, "auto" or list of pairs, default=0
        Pairwise interaction terms of the additive model (``hidden_layer_sizes=()``;
        with ``"auto"`` hidden layers it means the additive model too, and with
        explicit hidden layers anything but 0 is an error). The prediction is then a
        sum of one curve per feature plus one small KAN of two inputs per pair (5
        hidden nodes: ``2n + 1`` for ``n = 2``, as in the Kolmogorov-Arnold
        theorem), as an Explainable Boosting Machine with smooth shapes.
        ``"auto"`` ranks all pairs (among the 33 inputs whose main effects vary
        most) as EBM's FAST does, on out-of-fold residuals of the main effects
        (fitted on each half of the rows), takes up to 10 whose interaction
        significantly explains residuals of held-out rows, and keeps them if they
        significantly lower the out-of-fold loss (else none); an int keeps that
        many best-ranked pairs; a list of pairs of feature indices or names uses
        those. See ``term_names_``, :meth:`explain` and
        :meth:`plot_terms`.
    grid_size : "auto" or int, default="auto"
        Number of grid intervals ``G`` of every spline; ``"auto"`` is 4 from 500
        training rows (and in ``partial_fit``), else 5; with early stopping, the
        grids are then doubled while that raises the validation score by more than
        ``tol``, up to 40 intervals and 100 training rows per interval
        (``grid_size_`` gives the grid in use).
    spline_order : int, default=3
        B-spline order ``k`` (3: cubic).
    grid_eps : float, default=0.02
        Blend of uniform and quantile knots when grids adapt to data.
    lamb : float, default=0.0
        Overall strength of the sparsity penalty (0 disables it).
    lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff : float, default=1.0, 2.0, 0.0, 0.0
        Weights inside the penalty (pykan's meaning).
    solver : {"adam", "lbfgs"}, default="adam"
        Minibatch Adam, or full-batch L-BFGS with a strong-Wolfe line search.
    learning_rate_init : float or "auto", default="auto"
        Adam's initial step size (ignored by L-BFGS); divided by 5 at the first
        plateau, and training stops at the second (with early stopping, at the first
        plateau of the validation log-loss). ``"auto"`` is 0.02 from 500
        training rows (and in ``partial_fit``), where "auto" batches are small, and
        0.05 below, where steps are full-batch.
    max_iter : int, default=200
        Maximum number of epochs (Adam) or iterations (L-BFGS).
    batch_size : int or "auto", default="auto"
        Most rows per Adam step; each pass is split into ``ceil(n_samples /
        batch_size)`` batches of equal size (within one row), so no step sees a
        small remainder. "auto" is all rows below 500, else ``n_samples // 16``
        rows, at least 128 and at most 8192: small steps generalise better on a few
        thousand rows, large ones train more samples per second on large data.
        L-BFGS steps on all rows (in chunks that bound memory).
    tol : float, default=1e-3
        Improvement of the training loss (or of the calibrated validation log-loss,
        with early stopping) counted as progress.
    early_stopping : bool or "auto", default="auto"
        Hold out a stratified ``validation_fraction`` of the training rows, train at
        least until the grids' last update, stop when their calibrated log-loss (that
        of the outputs scaled by the factor at most 1 that minimises it) stops
        improving (a plateau as for ``n_iter_no_change``), and keep the epoch with the
        lowest one (weights averaged over the last epoch of steps), its outputs
        scaled by the factor fitted on the held-out rows. The log-loss, not the
        accuracy, so that training stops before the ranking of noisy data
        degrades; calibrated, so that growing confidence alone does not stop a
        clean problem.
        ``"auto"``: on when ``fit`` gets at least 500 rows, off below (the
        validation set would be under 50 rows); ``partial_fit`` never stops early
        (as with ``True``).
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping.
    n_iter_no_change : int, default=5
        Epochs without progress that make a plateau.
    random_state : int, RandomState instance or None, default=None
        Seeds a local :class:`torch.Generator` and the validation split.
    warm_start : bool, default=False
    verbose : bool, default=False
        Report training progress: on a terminal or in a notebook a live progress bar
        (epochs, loss and validation score), elsewhere (logs, files) one line per
        epoch on stdout; at the end, why training stopped and, with early stopping,
        which epoch's weights were restored.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
    dtype : {"float32", "float64"}, default="float32"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : skkan.nn.KAN
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    n_iter_ : int
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Minus the calibrated validation log-loss after every epoch (higher is
        better), with early stopping; None without.
    best_validation_score_ : float or None
        The highest of ``validation_scores_`` (the restored weights' score).
    feature_importances_ : ndarray of shape (``n_features_in_``,)
        Attribution score of every input (pykan's input node scores), summing to 1.
    node_scores_ : list of ndarray
        pykan's attribution score of every node, one array per layer of nodes
        (inputs first; each output node scores 1).
    edge_scores_ : list of ndarray
        Attribution score of every edge, one (n_out, n_in) array per layer; pruned
        edges score 0. :meth:`prune` compares these with its thresholds.
    symbolic_fits_ : list of dict
        Set by :meth:`auto_symbolic`: per edge considered, its layer, output and
        input index, the function chosen (None if it stayed a spline), the R^2 of the
        fit and the three best candidates.
    snapping_scores_ : tuple (before, after) or None
        Set by :meth:`auto_symbolic`: ``score`` on the data it was given, before and
        after snapping (None without data).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkan import KANClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = KANClassifier(random_state=0).fit(X, y)
    >>> clf.predict(X[:1])
    array([0])
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> bool(clf.score(X, y) > 0.9)  # training accuracy
    True
    """

    _target_type = ClassificationTargets

    def __init__(
        self,
        hidden_layer_sizes="auto",
        interactions=0,
        grid_size="auto",
        spline_order=3,
        grid_eps=0.02,
        lamb=0.0,
        lamb_l1=1.0,
        lamb_entropy=2.0,
        lamb_coef=0.0,
        lamb_coefdiff=0.0,
        solver="adam",
        learning_rate_init="auto",
        max_iter=200,
        batch_size="auto",
        tol=1e-3,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=None,
        warm_start=False,
        verbose=False,
        device="cpu",
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.interactions = interactions
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

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of training over the rows ``(X, y)``, continuing the fitted model.

        The first call needs ``classes`` (every label that any chunk will hold), as
        scikit-learn's incremental classifiers do, and settles the input scaling from
        its rows; the spline grids are re-fitted to the chunks of the calls after 0, 1,
        3, 7, 15 and 31 passes, as ``fit`` does at those epochs. Later calls train on
        with the same scaling and the optimizer state. There is no early stopping and no convergence check.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All class labels; required on the first call, ignored (if equal) later.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if not hasattr(self, "module_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"`classes={list(np.unique(classes))}` is not the same as on the first call to "
                f"partial_fit, which was {list(self.classes_)}."
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def decision_function(self, X):
        """Decision scores (logits) of the network.

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive: ``classes_[1]``),
        else (n_samples, n_classes)
        """
        output = self._forward(X)  # checks that the model is fitted first
        return self._targets.to_user(output)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        from scipy.special import expit  # loaded on first use: about 40 ms of import time

        scores = self.decision_function(X)
        if scores.ndim == 1:
            # expit of both signs: 1 - expit(s) would round to 0 for a confident s > 37,
            # and its log to -inf where predict_log_proba is finite.
            return np.column_stack([expit(-scores), expit(scores)])
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([-np.logaddexp(0, scores), -np.logaddexp(0, -scores)])
        shifted = scores - scores.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]
