"""pykan's symbolic methods and the formula views of the KAN estimators.

:class:`SymbolicMethods` is a mixin of :class:`~skkan._base.BaseKAN`: each method
checks its arguments, calls one operation of :mod:`skkan._operations` on the fitted
network (``self._network()``) and commits the result. The work itself (snapping,
retraining, formula assembly) lives in :mod:`skkan.symbolic`.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _operations
from .symbolic import make_library
from .symbolic._formula import FormulaReport, estimator_symbols, spline_name
from .symbolic._simplify import lambdify_inputs

__all__ = ["SymbolicMethods"]


def _warn_if_snapping_cost(before, after, tolerance):
    if before - after > tolerance:
        warnings.warn(
            f"Snapping to the library lowered the score on the given data from {before:.4f} to "
            f"{after:.4f}, by more than score_tolerance={tolerance:g}: some closed forms fit their "
            "curves poorly. Raise r2_threshold to keep those edges as splines (formula_report() "
            "lists each edge's fit), or use a richer library.",
            UserWarning,
            stacklevel=3,
        )


def _same_edge(record, edge):
    return (record["layer"], record["output"], record["input"]) == edge


class SymbolicMethods:
    """``auto_symbolic``, manual edge control and formulas of a fitted KAN estimator."""

    def auto_symbolic(
        self,
        X=None,
        y=None,
        library=None,
        r2_threshold=0.9,
        weight_simple=0.5,
        sample_weight=None,
        max_iter=200,
        score_tolerance=0.01,
        readable=True,
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
        score_tolerance : float, default=0.01
            Given ``X, y``, the estimator's ``score`` on them is measured before and
            after snapping (``snapping_scores_``, also in :meth:`formula_report`); a
            warning says so when snapping lowers it by more than this.
        readable : bool, default=True
            Accept only closed forms a person can read over the data's range: a
            periodic function (sin, cos, tan) with at most two periods there, and no
            tanh or arctan so steep that it is a step (its argument spans more than
            10 over the range). An edge whose only good fits are such forms takes the
            next candidate or stays a spline (a named ``spline_...`` term with its
            plot). In an additive network with a hidden layer (``interactions``),
            each main effect is first folded into one edge (its second edge becomes
            ``x``), so it snaps to one closed form, not a nested one. ``False``
            accepts every form and snaps edge by edge (pykan's behaviour).

        Returns
        -------
        self
        """
        check_is_fitted(self, "module_")
        if not isinstance(r2_threshold, Real) or not r2_threshold <= 1:
            raise ValueError(f"r2_threshold must be a number <= 1, got {r2_threshold!r}.")
        if not isinstance(weight_simple, Real) or not 0 <= weight_simple <= 1:
            raise ValueError(f"weight_simple must be in [0, 1], got {weight_simple!r}.")
        if not isinstance(max_iter, (Integral, np.integer)) or max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}.")
        if (X is None) != (y is None):
            raise ValueError("auto_symbolic needs both X and y to retrain, or neither.")
        if not isinstance(score_tolerance, Real) or not score_tolerance >= 0:
            raise ValueError(f"score_tolerance must be a non-negative number, got {score_tolerance!r}.")
        entries = make_library(library)  # a bad library fails before any data check
        retrain_data = scores = None
        if X is not None:
            scored = (X, y, sample_weight)  # as given: score() checks feature names itself
            X, y, sample_weight = self._check_data(X, y, sample_weight, reset=False, dtype=(np.float64,))
            retrain_data = (self._scale_inputs(X), self._targets.encode(y), sample_weight)
            scores = [self.score(*scored)]
        module, records = _operations.snap(
            self._network(), entries, r2_threshold, weight_simple, retrain_data=retrain_data, max_iter=max_iter,
            refit_first=self.lamb > 0, random_state=self.random_state, readable=bool(readable),
            collapse=bool(readable),
        )
        self._model_changed(module)
        self.symbolic_fits_ = records
        self.snapping_scores_ = None
        if scores is not None:
            self.snapping_scores_ = (scores[0], self.score(*scored))
            _warn_if_snapping_cost(*self.snapping_scores_, score_tolerance)
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

        layer, out, in_ = self._check_edge(layer, out, in_)
        rows = _operations.suggest_symbolic(self._network(), layer, out, in_, library, weight_simple)
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
        edge = self._check_edge(layer, out, in_)
        module, name, r2 = _operations.fix_symbolic(self._network(), *edge, function)
        records = [r for r in getattr(self, "symbolic_fits_", []) if not _same_edge(r, edge)]
        records.append({"layer": edge[0], "output": edge[1], "input": edge[2], "function": name, "r2": r2,
                        "candidates": [(name, r2)]})
        self._model_changed(module)
        self.symbolic_fits_ = records
        return self

    def unfix_symbolic(self, layer, out, in_):
        """Give one symbolic edge its spline curve back (pykan's ``unfix_symbolic``).

        The spline is the one the edge had before it was snapped; retrain
        (``warm_start=True``) for it to follow what changed since.

        Returns
        -------
        self
        """
        import copy

        edge = self._check_edge(layer, out, in_)
        if edge[1:] not in self.module_.layers[edge[0]].symbolic_functions:
            raise ValueError(f"Edge {edge} is not symbolic.")
        module = copy.deepcopy(self.module_)
        module.layers[edge[0]].clear_symbolic(*edge[1:])
        self._model_changed(module)
        self.symbolic_fits_ = [r for r in getattr(self, "symbolic_fits_", []) if not _same_edge(r, edge)]
        return self

    # ------------------------------------------------------------------ formulas
    def _formula_expressions(self, precision):
        check_is_fitted(self, "module_")
        if precision is not None and (not isinstance(precision, (Integral, np.integer)) or precision < 0):
            raise ValueError(f"precision must be a non-negative integer or None, got {precision!r}.")
        # Only a model built with interactions names its terms: any network with one
        # hidden layer on two inputs is "additive with a pair" too, and its formula is
        # the composition of its curves.
        name_terms = not (isinstance(self.interactions, (Integral, np.integer)) and self.interactions == 0)
        return _operations.formulas(
            self._network(), self._float64_module(), estimator_symbols(self), precision, name_terms=name_terms
        )

    def get_formula(self, precision=4):
        """The fitted model as sympy, in the original units of inputs and targets.

        Input standardisation and target scaling are folded into the constants;
        symbols are named after ``feature_names_in_`` exactly as given (sympy takes
        any string) or ``x0, x1, ...``. Constants are rounded to ``precision`` decimals (or
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
        return self._targets.package(expressions)

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
        symbols = estimator_symbols(self)
        expressions = self._targets.unpackage(formula)
        unknown = set().union(*(sympy.sympify(e).free_symbols for e in expressions)) - set(symbols)
        if unknown:
            raise ValueError(f"The formula has symbols that are not features of this model: {sorted(map(str, unknown))}.")
        columns = []
        for expression in expressions:
            function = lambdify_inputs(symbols, expression)
            with np.errstate(all="ignore"):
                values = np.asarray(function(*X.T), dtype=np.float64)
            columns.append(np.broadcast_to(values, (X.shape[0],)))
        return self._targets.shape(np.column_stack(columns) if columns else np.empty((X.shape[0], 0)))

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
            ``n_outside_range``, ``max_abs_error_in_range`` and ``r2_in_range``.

        Notes
        -----
        :meth:`predict` clips every feature to the range it took in training; the
        formula does not (it is meant to be read and to extrapolate as written). Rows
        of ``X`` with a feature outside that range are compared as they are, and
        counted in ``n_outside_range``: a large ``max_abs_error`` beside an R^2 near
        1 usually comes from them, and ``max_abs_error_in_range`` and ``r2_in_range``
        give the error and the R^2 on the remaining rows.
        """
        check_is_fitted(self, "module_")
        training_rows = X is None
        if X is None:
            X = self._network().training_rows()
            if hasattr(self, "feature_names_in_"):
                import pandas as pd

                X = pd.DataFrame(X, columns=self.feature_names_in_)
        expressions, spline_edges = self._formula_expressions(precision)
        formula = self._targets.package(expressions)
        out_scale, out_offset = self._targets.output_transform()
        network = self._forward(X) * out_scale + out_offset
        approx = self.evaluate_formula(X, formula).reshape(len(network), -1)
        # Training rows are in range by construction (stored in the network's dtype,
        # float32 rounding may put them a last bit beyond it).
        outside = np.zeros(len(network), dtype=bool) if training_rows else self._outside_training_range(X)
        return FormulaReport(
            formula=formula,
            spline_edges=[spline_name(*edge) for edge in spline_edges],
            symbolic_edges=list(getattr(self, "symbolic_fits_", [])),
            snapping_scores=getattr(self, "snapping_scores_", None),
            **_operations.formula_fidelity(network, approx, outside),
        )

    def _outside_training_range(self, X):
        """Rows of raw ``X`` that :meth:`predict` clips (a feature beyond the training range)."""
        X = validate_data(self, X, reset=False, dtype=np.float64)
        standardised = (X - self._x_mean) / self._x_scale
        return np.any(self._scale_inputs(X) != standardised, axis=1)
