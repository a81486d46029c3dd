"""KANPruner: feature selection by training and pruning a sparse KAN."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._classifier import KANClassifier
from ._regressor import KANRegressor

__all__ = ["KANPruner"]

# Sparsity used when KANPruner trains its own KAN: strong enough that inputs which do
# not matter lose all their edges, weak enough not to hurt the fit of those that do.
_DEFAULT_LAMB = 1e-3
# Edge score under which edges are pruned before features are ranked (prune's default).
_EDGE_THRESHOLD = 3e-2


class KANPruner(SelectorMixin, MetaEstimatorMixin, BaseEstimator):
    """Select the input features that survive pruning of a sparse KAN.

    ``fit`` trains the KAN (a clone of ``estimator``, or -- when it is None -- a
    ``KANRegressor`` for continuous targets or a ``KANClassifier`` otherwise, both
    with a sparsity penalty ``lamb=1e-3``), prunes it with ``threshold`` and keeps the
    features that still have an active edge. It is a scikit-learn selector, like
    :class:`~sklearn.feature_selection.SelectFromModel`: ``transform``,
    ``get_support``, ``get_feature_names_out``, ``inverse_transform`` and
    ``set_output`` all work, and the pruned model is ``estimator_``.

    Parameters
    ----------
    estimator : KANRegressor or KANClassifier, default=None
        The KAN to train and prune. Its parameters are reachable as
        ``estimator__<name>`` (for example in a GridSearchCV grid).
    threshold : {"mean", "median"} or float, default="mean"
        Which features are kept. ``"mean"`` (``"median"``): the network is pruned
        with :meth:`KANRegressor.prune`'s default thresholds, then the features with
        an active edge whose ``feature_importances_`` reach the mean (median) of all
        features' importances are kept, as
        :class:`~sklearn.feature_selection.SelectFromModel` does. Attribution spreads
        over every input of a fitted network, so "some edge survives" alone keeps
        nearly every feature of real data (13 of 13 on wine). A float: the edge
        attribution score under which edges are pruned (roughly the share of its
        target node's spread that an edge must carry; hidden nodes are pruned below
        ``min(threshold, 0.01)``), and every feature with a surviving edge is kept.
    prefit : bool, default=False
        ``estimator`` is already fitted: prune a copy of it instead of training.
    max_features : int, callable or None, default=None
        Keep at most this many of the surviving features (those with the largest
        ``feature_importances_``); a callable gets ``X`` and returns the number.
    random_state : int, RandomState instance or None, default=None
        Seed of the KAN trained when ``estimator`` is None (a given estimator keeps
        its own ``random_state``).

    Attributes
    ----------
    estimator_ : KANRegressor or KANClassifier
        The trained, pruned KAN.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    max_features_ : int or None
        The resolved ``max_features``.

    Examples
    --------
    >>> import numpy as np
    >>> from skkan import KANPruner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(400, 5))
    >>> y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    >>> KANPruner(random_state=0).fit(X, y).get_support()
    array([ True,  True, False, False, False])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "prune"]), None],
        "threshold": [StrOptions({"mean", "median"}), Interval(Real, 0, None, closed="left")],
        "prefit": ["boolean"],
        "max_features": [Interval(Integral, 0, None, closed="left"), callable, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, threshold="mean", prefit=False, max_features=None, random_state=None):
        self.estimator = estimator
        self.threshold = threshold
        self.prefit = prefit
        self.max_features = max_features
        self.random_state = random_state

    def _make_estimator(self, y):
        if self.estimator is not None:
            return clone(self.estimator)
        if type_of_target(y) in ("continuous", "continuous-multioutput"):
            return KANRegressor(lamb=_DEFAULT_LAMB, random_state=self.random_state)
        return KANClassifier(lamb=_DEFAULT_LAMB, random_state=self.random_state)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Train (unless ``prefit``) and prune the KAN, then select features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        **fit_params : dict
            Passed to the estimator's ``fit`` (for example ``sample_weight``).

        Returns
        -------
        self
        """
        if self.prefit:
            if self.estimator is None:
                raise ValueError("prefit=True needs a fitted estimator.")
            check_is_fitted(self.estimator)
            estimator = copy.deepcopy(self.estimator)
        else:
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
            estimator = self._make_estimator(y).fit(X, y, **fit_params)
        relative = isinstance(self.threshold, str)
        edge_threshold = _EDGE_THRESHOLD if relative else self.threshold
        estimator.prune(node_threshold=min(edge_threshold, 1e-2), edge_threshold=edge_threshold)

        n_features = estimator.n_features_in_
        if callable(self.max_features):
            max_features = int(self.max_features(X))
        else:
            max_features = self.max_features
        if max_features is not None and max_features > n_features:
            raise ValueError(f"max_features ({max_features}) must be <= n_features ({n_features}).")

        importances = estimator.feature_importances_
        active = estimator.module_.layers[0].mask.sum(0).cpu().numpy() > 0
        support = active & (importances > 0)
        if relative:
            reference = np.mean(importances) if self.threshold == "mean" else np.median(importances)
            support &= importances >= reference
        if not support.any():
            support[int(np.argmax(importances))] = True  # never select nothing
        if max_features is not None and support.sum() > max_features:
            ranked = np.argsort(-np.where(support, importances, -np.inf), kind="stable")
            support = np.zeros(n_features, dtype=bool)
            support[ranked[:max_features]] = True

        self.estimator_ = estimator
        self.max_features_ = max_features
        self.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._support = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "estimator_")
        return self._support

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags
