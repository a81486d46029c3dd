"""KAN classifier."""

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from ._base import _AUTO_BATCH_MAX, BaseKAN

__all__ = ["KANClassifier"]

# Training rows per feature from which "auto" gives a hidden layer.
_ROWS_PER_FEATURE = 100

# The "auto" defaults, chosen on the classification sets of benchmarks/defaults.py
# (iris, wine, breast_cancer, digits, make_classification, moons): from 500 training
# rows, one hidden layer of 32 nodes on a grid of 4, minibatches of n // 16 rows (at
# least 128) and a step of 0.02; below, full-batch steps of 0.05 and the capacity by
# rows per feature (more capacity or smaller steps there lose accuracy on wine).
_MINIBATCH_ROWS = 500
_MINIBATCH_WIDTH = 32
_MINIBATCH_GRID = 4
_MIN_BATCH = 128
_MINIBATCH_LEARNING_RATE = 0.02
_FULL_BATCH_LEARNING_RATE = 0.05


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
        (accurate and directly readable on tabular data such as Iris); hidden layers
        model interactions between features. ``"auto"``: one hidden layer of 32
        nodes from 500 training rows (and in ``partial_fit``); below, ``()`` under
        100 training rows per feature, where hidden curves fit the noise, else one
        hidden layer of ``min(2 * n_features + 1, 16)`` nodes.
    grid_size : "auto" or int, default="auto"
        Number of grid intervals ``G`` of every spline; ``"auto"`` is 4 from 500
        training rows (and in ``partial_fit``), else 5.
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
        plateau, and training stops at the second. ``"auto"`` is 0.02 from 500
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
        Improvement of the loss (or validation accuracy) counted as progress.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction``, stop when its accuracy stops
        improving, and restore the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
        Epochs without progress that make a plateau.
    random_state : int, RandomState instance or None, default=None
        Seeds a local :class:`torch.Generator` and the validation split.
    warm_start : bool, default=False
    verbose : bool, default=False
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
    best_validation_score_ : float or None
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

    _multi_output_allowed = False
    _y_numeric = False

    def __init__(
        self,
        hidden_layer_sizes="auto",
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
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=None,
        warm_start=False,
        verbose=False,
        device="cpu",
        dtype="float32",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            grid_size=grid_size,
            spline_order=spline_order,
            grid_eps=grid_eps,
            lamb=lamb,
            lamb_l1=lamb_l1,
            lamb_entropy=lamb_entropy,
            lamb_coef=lamb_coef,
            lamb_coefdiff=lamb_coefdiff,
            solver=solver,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            batch_size=batch_size,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            dtype=dtype,
        )

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

    def _auto_capacity(self, n_samples, n_features):
        if n_samples >= _MINIBATCH_ROWS:
            return (_MINIBATCH_WIDTH,), _MINIBATCH_GRID
        if n_samples >= _ROWS_PER_FEATURE * n_features:
            return (min(2 * n_features + 1, 16),), 5
        return (), 5

    def _auto_batch_size(self, n_samples):
        if n_samples >= _MINIBATCH_ROWS:
            # Small steps generalise better than full-batch steps on a few thousand
            # rows (digits: +0.013 accuracy); large data keep large batches for speed.
            return min(n_samples, max(_MIN_BATCH, min(_AUTO_BATCH_MAX, n_samples // 16)))
        return super()._auto_batch_size(n_samples)

    def _auto_learning_rate(self, n_samples):
        return _MINIBATCH_LEARNING_RATE if n_samples >= _MINIBATCH_ROWS else _FULL_BATCH_LEARNING_RATE

    def _prepare_targets(self, y, sample_weight, reset, classes=None):
        check_classification_targets(y)
        if reset:
            if classes is not None:
                classes = np.unique(classes)
                unseen = np.setdiff1d(np.unique(y), classes)
                if unseen.size:
                    raise ValueError(f"y holds labels {list(unseen)} that are not in classes={list(classes)}.")
            else:
                classes = LabelEncoder().fit(y[sample_weight > 0] if np.any(sample_weight == 0) else y).classes_
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contains only one class: {classes[0]!r}."
                )
        else:
            classes = self.classes_
            unseen = np.setdiff1d(np.unique(y), classes)
            if unseen.size:
                raise ValueError(
                    f"Training can only continue with the classes seen in the first fit "
                    f"{list(classes)}; y has new labels {list(unseen)}."
                )
        encoded = np.searchsorted(classes, y)
        n_outputs = 1 if len(classes) == 2 else len(classes)
        return encoded, n_outputs, classes

    def _set_target_state(self, classes):
        self.classes_ = classes

    def _target_tensor(self, targets, device, dtype):
        return torch.as_tensor(np.ascontiguousarray(targets), dtype=torch.long, device=device)

    def _split_stratify(self, y):
        counts = np.bincount(y)
        return y if counts[counts > 0].min() >= 2 else None

    def _loss(self, output, target, weight):
        if output.shape[1] == 1:
            per_sample = torch.nn.functional.binary_cross_entropy_with_logits(
                output[:, 0], target.to(output.dtype), reduction="none"
            )
        else:
            per_sample = torch.nn.functional.cross_entropy(output, target, reduction="none")
        return (weight * per_sample).sum() / weight.sum()

    def _validation_score(self, output, target, weight):
        predicted = (output[:, 0] > 0).long() if output.shape[1] == 1 else output.argmax(1)
        return float((weight * (predicted == target).to(weight.dtype)).sum() / weight.sum())

    def decision_function(self, X):
        """Decision scores (logits) of the network.

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive: ``classes_[1]``),
        else (n_samples, n_classes)
        """
        output = self._forward(X)
        return output[:, 0] if output.shape[1] == 1 else output

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
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

    # ------------------------------------------------------------------ formulas
    def _formula_output_transform(self):
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        return np.ones(n_outputs), np.zeros(n_outputs)

    def _package_formulas(self, expressions):
        import sympy

        # Plain python keys (0, "setosa"), not numpy scalars (np.int64(0), np.str_(...)).
        labels = self.classes_.tolist()
        if len(labels) == 2:
            # Scores (0, s) give the same argmax and softmax as the logit s.
            return {labels[0]: sympy.Integer(0), labels[1]: expressions[0]}
        return dict(zip(labels, expressions))

    def _unpackage_formulas(self, formula):
        import sympy

        labels = self.classes_.tolist()
        if not isinstance(formula, dict) or set(formula) != set(labels):
            raise ValueError(f"Expected a dict with one expression per class {labels}.")
        if len(labels) == 2:
            return [sympy.sympify(formula[labels[1]]) - sympy.sympify(formula[labels[0]])]
        return [formula[label] for label in labels]

    def _shape_formula_output(self, values):
        return values[:, 0] if len(self.classes_) == 2 else values

    def _unshape_formula_output(self, values):
        return values.reshape(len(values), -1)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]
