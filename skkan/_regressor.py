"""KAN regressor."""

from sklearn.base import RegressorMixin, _fit_context

from ._base import BaseKAN
from ._targets import RegressionTargets

__all__ = ["KANRegressor"]


class KANRegressor(RegressorMixin, BaseKAN):
    """Kolmogorov-Arnold network regressor.

    Every edge of the network carries a learnable curve
    ``phi(x) = w_b silu(x) + w_s sum_c c_c B_c(x)`` (B-splines of order
    ``spline_order`` on a grid of ``grid_size`` intervals). Inputs are standardised and
    every grid is adapted to the quantiles of the data it sees, so raw, unscaled
    features work without a scaler; targets are standardised internally. All scaling
    is undone in :meth:`predict` and folded into formulas.

    Without a hidden layer (and without pair terms) the network is an additive model
    that is linear in its weights, and ``fit`` solves it in closed form: least squares
    with a ridge penalty on every curve's weights, the penalty (and, with
    ``grid_size="auto"``, the grid) chosen by exact leave-one-out cross-validation on
    all training rows, as scikit-learn's ``RidgeCV`` chooses its penalty; or, where
    leave-one-out prefers it, a smoothing penalty per input on the second differences
    of its coefficients, the penalties chosen by marginal likelihood as in a GAM. That is
    deterministic and fast, and the penalty keeps the curves from fitting the noise
    of small or wide tables (benchmarks/tables.py: R^2 +0.06 on a table of 300 one-hot
    columns, +0.017 on one of 442 rows). The solver trains everything else: hidden
    layers, pair terms, ``early_stopping=True``, a sparsity penalty (``lamb > 0``),
    ``warm_start`` continuations and ``partial_fit``.

    Parameters
    ----------
    hidden_layer_sizes : "auto" or array-like of int, default="auto"
        Widths of the hidden layers; ``()`` is a single KAN layer inputs -> outputs
        (an additive model: one curve per feature). ``"auto"`` adapts the capacity
        to the data: ``(6,)`` with at least 100 training rows per feature, else
        ``()``, since with fewer rows the curves of a hidden layer fit the noise
        (measured on the suite in ``benchmarks/defaults.py``); ``()`` is solved in
        closed form (see above).
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
        Number of grid intervals ``G`` of every spline. ``"auto"``: 10 with at least
        100 training rows per feature, else 3 (smooth curves for small data); with
        early stopping and ``hidden_layer_sizes="auto"``, a network on 5 intervals,
        trained from its own start, and the additive model (solved in closed form
        on the training rows) compete with the one on 10 and the best on the
        validation rows is kept (a fine grid or a hidden layer fits the noise of
        noisy tables);
        then the grids are doubled (pykan's grid extension) while
        that raises the validation score by more than ``tol``, up to 40 intervals
        and 100 training rows per interval. The additive model solved in closed
        form doubles its grid the same way while that lowers the leave-one-out
        error. ``grid_size_`` gives the grid in use.
    spline_order : int, default=3
        B-spline order ``k`` (3: cubic).
    grid_eps : float, default=0.02
        Blend of uniform and quantile knots when grids adapt to data: 0 puts knots at
        sample quantiles, 1 spaces them uniformly over the sample range.
    lamb : float, default=0.0
        Overall strength of the sparsity penalty (0 disables it).
    lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff : float, default=1.0, 2.0, 0.0, 0.0
        Weights inside the penalty, with pykan's meaning: ``lamb * (lamb_l1 * L1 +
        lamb_entropy * entropy + lamb_coef * mean|c| + lamb_coefdiff * mean|diff c|)``.
    solver : {"adam", "lbfgs"}, default="adam"
        Minibatch Adam, or full-batch L-BFGS with a strong-Wolfe line search. Not
        used by the additive model solved in closed form (see above).
    learning_rate_init : float or "auto", default=0.03
        Adam's initial step size (ignored by L-BFGS); divided by 5 at the first
        plateau, and training stops at the second. ``"auto"`` is 0.03.
    max_iter : int, default=200
        Maximum number of epochs (Adam) or iterations (L-BFGS).
    batch_size : int or "auto", default="auto"
        Most rows per Adam step; each pass is split into ``ceil(n_samples /
        batch_size)`` batches of equal size (within one row), so no step sees a
        small remainder. "auto" is 2048 rows (all rows if fewer), growing to at most
        8192 beyond 262,144 rows (``n_samples // 128``), where larger batches train
        more samples per second. L-BFGS steps on all rows (in chunks
        that bound memory).
    tol : float, default=1e-4
        Improvement of the loss (or validation score) counted as progress.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the training rows, train at least until
        the grids' last update, stop when their R^2 stops improving (a plateau as
        for ``n_iter_no_change``), and restore the weights of the epoch with the
        best validation R^2. ``"auto"``: on when ``fit`` gets at least 500 rows,
        off below (the validation set would be under 50 rows, and every row counts
        in a small fit); ``partial_fit`` never stops early (as with ``True``). The
        additive model solved in closed form holds out no rows (leave-one-out needs
        none); ``True`` has it trained by the solver with validation rows instead.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int, default=5
        Epochs without progress that make a plateau (Adam's step is divided by 5 on
        the first, training stops on the second).
    random_state : int, RandomState instance or None, default=None
        Seeds a local :class:`torch.Generator` (initialisation, shuffling) and the
        validation split; the same value gives a bit-identical model on one machine.
    warm_start : bool, default=False
        Continue from the fitted network instead of starting anew.
    verbose : bool, default=False
        Report training progress: on a terminal or in a notebook a live progress bar
        (epochs, loss and validation score), elsewhere (logs, files) one line per
        epoch on stdout; at the end, why training stopped and, with early stopping,
        which epoch's weights were restored.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where to train; "auto" picks CUDA when available.
    dtype : {"float32", "float64"}, default="float32"
        Precision of training (predictions are computed in float64 on the CPU).

    Attributes
    ----------
    module_ : skkan.nn.KAN
        The fitted network (on standardised inputs and targets).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    n_outputs_ : int
    n_iter_ : int
        Epochs run (summed over warm starts); 1 for a closed-form solution.
    loss_curve_ : list of float
        Training loss (standardised targets, penalty included) per epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation R^2 after every epoch, with early stopping; None without.
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
    >>> from sklearn.datasets import make_friedman1
    >>> from skkan import KANRegressor
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> reg = KANRegressor(random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> bool(reg.score(X, y) > 0.9)  # training R^2
    True
    """

    _target_type = RegressionTargets

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
        learning_rate_init=0.03,
        max_iter=200,
        batch_size="auto",
        tol=1e-4,
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
    def partial_fit(self, X, y, sample_weight=None):
        """One pass of training over the rows ``(X, y)``, continuing the fitted model.

        The first call settles the input scaling and the target scaling from its rows
        (so make the first chunk representative, e.g. shuffled); the spline grids are
        re-fitted to the chunks of the calls after 0, 1, 3, 7, 15 and 31 passes, as
        ``fit`` does at those epochs, then stay. Later calls train on with the same
        scaling and the optimizer state. There
        is no early stopping and no convergence check: the caller decides how many
        passes to make. Used by dask-ml's ``Incremental`` for data beyond memory.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        output = self._forward(X)  # checks that the model is fitted first
        return self._targets.to_user(output)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
