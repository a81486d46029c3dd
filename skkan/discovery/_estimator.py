"""A regressor whose model is a formula discovered with sparse KANs."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import symbolic
from .._persistence import dump_state, load_state
from .._preprocessing import check_numeric_columns
from ..symbolic._formula import estimator_symbols, round_floats
from ..symbolic._simplify import evaluate, noise_tie
from ._factors import is_noisy
from ._noise import estimate_noise, noise_rows
from ._single_index import lowered_noise_level
from ._trials import (
    Candidate,
    TrialSpec,
    discover,
    noise_columns,
    pareto_table,
    screen_noise_level,
    select_best,
    supported_digits,
)

__all__ = ["KANSymbolicRegressor"]

# Below this many rows every row is used both to fit and to judge formulas.
_MIN_SPLIT_ROWS = 20
# Fewer rows per input than this give a warning: a formula's constants fit the noise.
_MIN_ROWS_PER_INPUT = 10


class KANSymbolicRegressor(RegressorMixin, BaseEstimator):
    """Symbolic regression with Kolmogorov-Arnold networks.

    ``fit`` discovers a formula: sparse KANs are trained in stages (additive models,
    then one hidden layer with several random restarts, then one hidden layer snapped
    to polynomials), on ``y`` and, when ``y`` keeps one sign, on ``log|y|`` (which
    turns products and powers into sums) and on ``y**2``, ``1/y`` and ``1/y**2``
    (which turn Euclidean norms, reciprocals of sums and relativistic factors into
    sums). A least-squares screen of additive splines, milliseconds per candidate,
    adds additive networks on the candidates it finds additive: on ``sin(y)`` when
    ``|y| < pi/2`` (read back with ``asin``) and after a change of variables that
    merges two positive inputs into their product or ratio (``k*d`` in
    ``cos(k*d)``, ``theta/sigma`` in a Gaussian), two inputs into their difference
    (``theta1 - theta2``), a difference over a scale (``(theta - theta1)/sigma``), or
    a ratio and a difference of four distinct inputs (the law of cosines). A product
    of factors of one or two inputs each, whatever their signs (``m*r*v*sin(theta)``
    with signed ``m``, ``r``, ``v``; ``q**2*a**2/(epsilon*c**3)``), is found by
    alternating least squares of spline factors, and each factor is discovered on its
    own inputs; so is a product plus a constant, and a product (plus a constant) times
    a monomial of positive inputs (``n_0*(1 + p*E*cos(theta)/(k*T))``). When ``y``
    changes sign, tables of a surrogate network's values tell, recursively, whether
    ``y`` is a sum or a product of functions of disjoint groups of inputs (no
    logarithm needed); each leaf is then discovered on data the network generates and
    the combination simplified on the real rows (``r*F*sin(theta)`` and
    ``q*(Ef + B*v*sin(theta))`` with signed inputs). In
    approximate formulas, roots of arguments that sympy cannot prove nonnegative are
    taken of their absolute value, so the formula stays real on new rows. Each network is pruned, every edge snapped
    to the symbolic library with its constants retrained, and the formula read off
    it is simplified against the data: polynomial parts expanded, constants refitted
    after every change, negligible terms dropped, and constants close to small
    rationals or rational multiples of pi written as such. Every formula met along
    the way is scored on held-out rows; :attr:`equations_` is their Pareto front,
    simplest first, as PySR shows it, and the chosen formula follows PySR's
    ``model_selection`` rule. Discovery stops after the first stage that fits the
    held-out rows exactly or, on noisy data, to the estimated noise floor
    (:attr:`noise_level_`) with a formula of few constants.

    ``predict`` evaluates the chosen formula (vectorised numpy), so :meth:`score` is
    the formula's score, and :meth:`get_formula` returns that formula.

    Parameters
    ----------
    hidden_width : int or "auto", default="auto"
        Width of the hidden layer of the stage-2 and stage-3 networks; "auto" is
        ``min(2 * n_features + 1, 5)``.
    grid_size : int, default=3
        Grid intervals of the splines (coarse grids give curves the library matches).
    lamb : float, default=1e-2
        Sparsity penalty of the networks with a hidden layer (a tenth of it for
        additive ones).
    max_iter : int, default=200
        L-BFGS iterations of each network's training and of its retraining after
        snapping.
    n_restarts : int, default=2
        Random restarts of the hidden-layer networks (per target transform).
    transforms : {"auto", "none"}, default="auto"
        "auto" also fits ``log(s * y)`` and the powers ``(s * y)**2``, ``(s * y)**-1``,
        ``(s * y)**-2`` when ``y`` keeps one sign ``s`` (each read back exactly),
        ``y`` divided by a monomial of positive inputs it is proportional to, and
        the screened ``sin(y)`` targets and changes of variables; "none" fits ``y``
        on the raw inputs only.
    library : None, sequence or dict, default=None
        Candidate functions (see :meth:`KANRegressor.auto_symbolic`); None is every
        function of :data:`skkan.symbolic.LIBRARY`.
    tolerance : float, default=1e-4
        A simplification is kept when the held-out root relative squared error grows
        by at most this much.
    validation_fraction : float, default=0.25
        Share of the rows held out to score formulas (all rows are used for both
        below 20 rows).
    model_selection : {"best", "accuracy", "score"}, default="best"
        "best" takes the simplest formula whose held-out squared errors are not
        significantly larger than those of the most accurate one (a one-sided
        paired test on the held-out rows, at two standard errors): on exact data
        only an exact formula, on noisy data the simplest one the noise cannot tell
        apart. "accuracy" takes the lowest loss, "score" PySR's highest score.
    n_jobs : int, default=None
        Trials of a stage run in parallel with joblib (None: one at a time).
    random_state : int, RandomState instance or None, default=None
        Seeds the split and every network. Exact data give the same law on any
        machine; on noisy data, which of the formulas the held-out rows cannot tell
        apart is chosen can change with float rounding (another CPU, or another
        run: refits of many constants round with how arrays lie in memory).
    verbose : int, default=0
        Print one line per trial (stage, target, network, time, loss, formula).

    Attributes
    ----------
    equations_ : pandas.DataFrame
        The Pareto front, simplest first: ``complexity`` (nodes of the expression
        tree, a constant counting one), ``loss`` (held-out mean squared error divided
        by the variance of ``y``, floored at 1e-12, below which float rounding
        decides), ``score`` (``-d log(loss) / d complexity``), ``equation`` (sympy)
        and ``trial`` (where it was found), ``within_noise`` (the formula's
        held-out error is indistinguishable from the noise floor
        :attr:`noise_level_`: under Gaussian noise its mean squared error exceeds
        the floor by less than two standard deviations) and ``uncertainties``
        (each float constant to the digits its standard error supports, with that
        error from the Jacobian of the least-squares refit, ``"3.1998 ± 0.0021"``;
        constants are snapped to simple values only within 2.5 standard errors).
    best_index_ : int
        Row of :attr:`equations_` chosen by ``model_selection``.
    noise_level_ : float
        Estimated standard deviation of the noise on ``y``: the white-noise level of
        a Gaussian process fitted to at most 300 training rows, or the held-out
        root mean squared error of the most accurate formula where that is lower
        (0.0 when a formula is exact to float precision).
    trials_ : list of dict
        Every trial run: description, seconds, best held-out loss and the
        network's training iterations.
    n_iter_ : int
        Most training iterations of one network.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names; formulas use them.

    Examples
    --------
    >>> import numpy as np
    >>> from skkan import KANSymbolicRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(1, 5, size=(500, 3))
    >>> y = X[:, 0] * X[:, 1] / X[:, 2] ** 2
    >>> model = KANSymbolicRegressor(random_state=0).fit(X, y)
    >>> model.get_formula()
    x0*x1/x2**2
    """

    _parameter_constraints: dict = {
        "hidden_width": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "grid_size": [Interval(Integral, 1, None, closed="left")],
        "lamb": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "transforms": [StrOptions({"auto", "none"})],
        "library": [None, str, list, tuple, dict],
        "tolerance": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "model_selection": [StrOptions({"best", "accuracy", "score"})],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_width="auto",
        grid_size=3,
        lamb=1e-2,
        max_iter=200,
        n_restarts=2,
        transforms="auto",
        library=None,
        tolerance=1e-4,
        validation_fraction=0.25,
        model_selection="best",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.hidden_width = hidden_width
        self.grid_size = grid_size
        self.lamb = lamb
        self.max_iter = max_iter
        self.n_restarts = n_restarts
        self.transforms = transforms
        self.library = library
        self.tolerance = tolerance
        self.validation_fraction = validation_fraction
        self.model_selection = model_selection
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Discover a formula for ``y`` as a function of the columns of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw features (a DataFrame's column names name the formula's symbols).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - pandas is in the test extra
            raise ImportError("KANSymbolicRegressor needs pandas for equations_: pip install pandas") from error

        check_numeric_columns(X)  # the same errors as the other estimators
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        _check_rows(*X.shape)
        symbolic.make_library(self.library)  # a bad library fails here, before any training
        rng = check_random_state(self.random_state)
        n_samples = X.shape[0]
        if n_samples < _MIN_SPLIT_ROWS:
            fit_rows = validation_rows = np.arange(n_samples)
        else:
            order = rng.permutation(n_samples)
            n_validation = max(1, int(round(self.validation_fraction * n_samples)))
            validation_rows, fit_rows = np.sort(order[:n_validation]), np.sort(order[n_validation:])
        settings = {
            "grid_size": self.grid_size,
            "lamb": self.lamb,
            "max_iter": self.max_iter,
            "symbolic_iter": self.max_iter,
            "tolerance": self.tolerance,
            "library": self.library,
        }
        seed = rng.randint(np.iinfo(np.int32).max)
        # The noise floor, from the training rows only (the held-out rows judge formulas).
        noise = estimate_noise(X[fit_rows], y[fit_rows], random_state=seed)
        if self.transforms == "auto":
            noise = lowered_noise_level(X[fit_rows], y[fit_rows], noise)
            noise = screen_noise_level(X[fit_rows], y[fit_rows], X[validation_rows], y[validation_rows], noise)
        # Whether the rows are noisy, for every sub-problem too (their noise floors are
        # set by their values' errors, which exact data have as well).
        noisy = bool(is_noisy(noise, float(np.std(y[validation_rows]))))
        settings["noisy_data"] = noisy
        candidates, trials = discover(
            X[fit_rows], y[fit_rows], X[validation_rows], y[validation_rows], self._symbols(), settings,
            n_restarts=self.n_restarts, hidden_width=self.hidden_width, transforms=self.transforms,
            random_state=seed, n_jobs=self.n_jobs, verbose=self.verbose, noise_level=noise,
            n_noise_rows=noise_rows(len(fit_rows)),
        )
        # On noisy data, losses within two standard deviations of a mean of squares tie.
        rows = pareto_table(candidates, tie=noise_tie(len(validation_rows)) if noisy else 0.0)
        if not rows:
            # Every trial failed (tiny or degenerate data): the mean is a formula too.
            rows = pareto_table(_constant_candidate(y))
        errors, flags, self.noise_level_ = noise_columns(
            rows, X[validation_rows], y[validation_rows], self._symbols(), noise, noise_rows(len(fit_rows))
        )
        for row, flag in zip(rows, flags):
            row["within_noise"] = flag
        columns = ["complexity", "loss", "score", "equation", "trial", "within_noise", "uncertainties"]
        self.equations_ = pd.DataFrame(rows, columns=columns)
        self._constant_errors = [row["errors"] for row in rows]
        self.best_index_ = select_best(rows, self.model_selection, errors=errors)
        self.trials_ = trials
        self.n_iter_ = max((trial["n_iter"] for trial in trials), default=0)
        if self.verbose:
            print(f"[discovery] chosen: {self.equations_['equation'][self.best_index_]}", flush=True)
        return self

    def _symbols(self):
        return estimator_symbols(self)

    def _index(self, index):
        check_is_fitted(self, "equations_")
        if index is None:
            return self.best_index_
        if not isinstance(index, (Integral, np.integer)) or not -len(self.equations_) <= index < len(self.equations_):
            raise IndexError(f"index must be an integer row of equations_ (0..{len(self.equations_) - 1}), got {index!r}.")
        return int(index) % len(self.equations_)

    def get_formula(self, index=None, precision=4):
        """The chosen formula (or row ``index`` of :attr:`equations_`) as sympy.

        Parameters
        ----------
        index : int, default=None
            Row of :attr:`equations_`; None is the row chosen by ``model_selection``.
        precision : int or None, default=4
            Round float constants to this many decimals (or significant digits,
            whichever keeps more), as ``get_formula`` of the other estimators does,
            and a constant with a known standard error (see the ``uncertainties``
            column of :attr:`equations_`) further to the digits that error supports
            (``3.19978 ± 0.021`` prints as ``3.200``); None keeps them exactly as
            :meth:`predict` uses them.

        Returns
        -------
        sympy.Expr
        """
        row = self._index(index)
        expression = self.equations_["equation"][row]
        if precision is not None and (not isinstance(precision, (Integral, np.integer)) or precision < 0):
            raise ValueError(f"precision must be a non-negative integer or None, got {precision!r}.")
        if precision is None:
            return expression
        errors = getattr(self, "_constant_errors", None)  # None in files saved before them
        if errors is not None and len(errors[row]):
            import sympy

            error_of = {float(value): float(error) for value, error in errors[row]}
            rounded = {}
            for constant in expression.atoms(sympy.Float):
                error = error_of.get(float(constant))
                value = supported_digits(float(constant), error) if error is not None else 0.0
                if value != 0:  # a constant zero within its error keeps its digits
                    rounded[constant] = sympy.Float(value)
            expression = expression.xreplace(rounded)
        return round_floats(expression, precision)

    def latex(self, index=None, precision=4):
        """The formula of :meth:`get_formula` as a LaTeX string."""
        import sympy

        return sympy.latex(self.get_formula(index, precision))

    def predict(self, X, index=None):
        """Evaluate the chosen formula (or row ``index`` of :attr:`equations_`) on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        index : int, default=None

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "equations_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return evaluate(self.get_formula(index, precision=None), self._symbols(), X)

    def __getstate__(self):
        """Plain values only (see :mod:`skkan._persistence`): ``equations_`` is stored
        column by column, its sympy ``equation`` column as exact JSON text, so pickles
        and ``skops.io`` files hold neither pandas internals nor sympy objects.
        """
        return dump_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(load_state(state, type(self).__name__))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _check_rows(n_samples, n_features):
    """An error for one row, a warning below :data:`_MIN_ROWS_PER_INPUT` rows per input."""
    if n_samples < 2:
        raise ValueError(f"KANSymbolicRegressor needs at least 2 rows to fit a formula, got {n_samples} sample.")
    needed = _MIN_ROWS_PER_INPUT * max(n_features, 1)
    if n_samples < needed:
        warnings.warn(
            f"Only {n_samples} rows for {n_features} input(s): with fewer than {needed} rows "
            f"({_MIN_ROWS_PER_INPUT} per input) the constants and terms of a formula fit the "
            "noise of these rows; treat the formula as a guess, or collect more rows.",
            UserWarning,
            stacklevel=4,  # _check_rows < fit < scikit-learn's fit wrapper < the caller
        )


def _constant_candidate(y):
    import sympy

    return [Candidate(sympy.Float(float(np.mean(y))), 1, 1.0, 1.0, TrialSpec(0, "identity", (), None, 0))]
