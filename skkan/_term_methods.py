"""The term view of additive KAN estimators: names, importances, explanations, plots.

:class:`TermMethods` is a mixin of :class:`~skkan._base.BaseKAN`. A model is additive
when its network has no hidden layer, or one whose nodes each see at most two inputs
(``interactions``; see :mod:`skkan._additive`): its prediction (the decision score of
a classifier) is then a sum of terms of one or two inputs plus an intercept. The
methods read the terms from the network and express them in the user's units.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from ._additive import pair_marginals, purify, term_contributions, terms_of
from ._preprocessing import check_numeric_columns

__all__ = ["TermMethods"]

# A symbolic fit is drawn on a term's panel from this R^2 over the data's range on.
_SYMBOLIC_PANEL_R2 = 0.99
# plot_terms' axes leave out this share of the rows at each end.
_SHOWN_TAIL = 0.005


class TermMethods:
    """``term_names_``, ``term_importances_``, :meth:`explain` and :meth:`plot_terms`."""

    def _terms(self):
        """The network's terms; AttributeError (so ``hasattr`` is False) for a non-additive model."""
        if "module_" not in self.__dict__:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet.")
        terms = terms_of(self.module_)
        if terms is None:
            raise AttributeError(
                f"The terms of a {type(self).__name__} exist for additive models only: fit with "
                "hidden_layer_sizes=() (optionally with interactions); this network has hidden "
                f"layers {self.hidden_layer_sizes_}."
            )
        return terms

    def _feature_names(self):
        return [str(name) for name in getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])]

    @property
    def term_names_(self):
        """Names of the terms of an additive model: the feature, or ``"a & b"`` for a pair.

        Main effects come first, in feature order, then the pairs. Inputs whose edges
        were all pruned have no term.
        """
        names = self._feature_names()
        return [" & ".join(names[i] for i in inputs) for inputs in self._terms().inputs]

    @property
    def term_importances_(self):
        """Mean absolute contribution of every term (in :attr:`term_names_` order).

        Measured on (up to 4096 of) the training rows, in the units of the prediction
        (a classifier's decision score), and averaged over outputs.
        """
        contributions, _ = self._term_values(self._attribution_data.to(torch.float64))
        weight = self._attribution_weight.double().cpu().numpy()
        weight = weight / weight.sum()
        return np.einsum("n,nto->t", weight, np.abs(contributions)) / contributions.shape[2]

    def _term_values(self, x):
        """Contributions (n, terms, outputs) and intercept (outputs,) of scaled rows, in the user's units.

        Pairs are purified (their marginal effects belong to the main effects, see
        :func:`skkan._additive.purify`) and every term is centred on the training rows
        (its weighted mean moves into the intercept), as Explainable Boosting Machines
        present theirs: only the sum of the terms is determined by the data, so this
        is the one way to split it that makes terms comparable.
        """
        terms, marginals, offsets = self._term_layout()
        contributions, intercept = term_contributions(self._float64_module(), terms, x)
        contributions = purify(contributions, x.cpu().numpy(), terms, marginals)
        scale, offset = self._targets.output_transform()
        return (contributions - offsets) * scale, (intercept + offsets.sum(0)) * scale + offset

    def _term_layout(self):
        """The terms, their pairs' marginal effects and their means on the training rows (cached)."""
        if "_term_layout_cache" not in self.__dict__:
            terms = self._terms()
            module = self._float64_module()
            rows = self._attribution_data.to(torch.float64)
            scaler = self._input_scaler()
            marginals = pair_marginals(module, terms, rows.cpu().numpy(), scaler.low, scaler.high)
            contributions, _ = term_contributions(module, terms, rows)
            contributions = purify(contributions, rows.cpu().numpy(), terms, marginals)
            weight = self._attribution_weight.double().cpu().numpy()
            offsets = np.einsum("n,nto->to", weight / weight.sum(), contributions)
            self.__dict__["_term_layout_cache"] = (terms, marginals, offsets)
        return self.__dict__["_term_layout_cache"]

    def explain(self, X):
        """Every term's contribution to the prediction of every row of ``X``.

        The model is additive (``hidden_layer_sizes=()``, optionally with
        ``interactions``), so the prediction is the intercept plus one contribution per
        term; this is the local explanation of each row, exact.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        pandas.DataFrame or dict of pandas.DataFrame
            One column per term (:attr:`term_names_`) plus ``"intercept"``; the row
            sums equal ``predict(X)`` (regressor) or ``decision_function(X)``
            (classifier). With several outputs (more than two classes, or a
            multi-output regressor), a dict of such frames keyed by class label (or
            output index).
        """
        import pandas as pd

        check_is_fitted(self, "module_")
        self._terms()  # a clear error for a model that is not additive, before any work
        index = X.index if hasattr(X, "index") and hasattr(X, "columns") else None
        check_numeric_columns(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        x = torch.as_tensor(self._scale_inputs(X), dtype=torch.float64)
        contributions, intercept = self._term_values(x)
        names = self.term_names_
        frames = []
        for output in range(contributions.shape[2]):
            frame = pd.DataFrame(contributions[:, :, output], columns=names, index=index)
            frame["intercept"] = intercept[output]
            frames.append(frame)
        if len(frames) == 1:
            return frames[0]
        labels = self.classes_.tolist() if hasattr(self, "classes_") else list(range(len(frames)))
        return dict(zip(labels, frames))

    def plot_terms(self, X=None, max_terms=12, n_points=200, output=None, ncols=None, symbolic=True):
        """Plot the terms of an additive model, the most important first.

        One panel per term: for a feature, its contribution against the feature in the
        data's units over the central 99 % of the rows, with the data's density below (a histogram) and, where a simple
        closed form ``c * f(a * x + b) + d`` from the symbolic library fits the curve
        with R^2 >= 0.99 over the data's range, that fit dashed with its formula; for a
        pair, a heatmap of its contribution over the two features with the data as
        dots. Needs matplotlib (``pip install 'skkan[plot]'``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Rows whose density is shown; by default (up to 4096 of) the training rows.
        max_terms : int, default=12
            Panels for at most this many terms (by :attr:`term_importances_`).
        n_points : int, default=200
            Points per curve (per side of a heatmap: ``n_points // 4``).
        output : default=None
            Which output to show: a class label of a classifier with more than two
            classes or an output index of a multi-output regressor. By default every
            output is drawn on a feature's panel and the most important one on a
            pair's.
        ncols : int, default=None
            Panels per row (by default up to 4).
        symbolic : bool, default=True
            Whether to search and draw symbolic fits of the features' curves.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ._plot import plot_term_panels

        check_is_fitted(self, "module_")
        if not isinstance(max_terms, (Integral, np.integer)) or max_terms < 1:
            raise ValueError(f"max_terms must be a positive integer, got {max_terms!r}.")
        terms = self._terms()
        importances = self.term_importances_
        order = np.argsort(-importances, kind="stable")[: int(max_terms)]
        scaler = self._input_scaler()
        if X is None:
            rows = scaler.center + scaler.scale * self._attribution_data.double().cpu().numpy()
        else:
            check_numeric_columns(X)
            rows = np.asarray(validate_data(self, X, reset=False, dtype=[np.float64]), dtype=np.float64)
        # Axes cover the central 99 % of the rows: a few far outliers (occupancies of
        # 1,000 in California Housing) would squeeze the data into a corner.
        quantiles = np.nanquantile(rows, [_SHOWN_TAIL, 1 - _SHOWN_TAIL], axis=0)
        scaled = np.clip((quantiles - scaler.center) / scaler.scale, scaler.low, scaler.high)
        shown_range = list(zip(scaled[0], np.maximum(scaled[1], scaled[0] + 1e-9)))
        output_names = self._targets.output_names()
        outputs = list(range(len(output_names)))
        if output is not None:
            outputs = [self._output_position(output, output_names)]
        names = self._feature_names()
        panels = []
        for index in order:
            inputs = terms.inputs[index]
            grids = [
                np.linspace(*shown_range[i], n_points if len(inputs) == 1 else max(n_points // 4, 8)) for i in inputs
            ]
            mesh = np.meshgrid(*grids, indexing="ij")
            x = np.zeros((mesh[0].size, self.n_features_in_))
            for i, values in zip(inputs, mesh):
                x[:, i] = values.ravel()
            # Other inputs at 0: a (purified, centred) term depends on its own inputs only.
            contributions, _ = self._term_values(torch.as_tensor(x))
            values = contributions[:, index, :]  # (points, outputs)
            axes = [scaler.center[i] + scaler.scale[i] * grid for i, grid in zip(inputs, grids)]
            panel = {
                "title": f"{self.term_names_[index]}  (importance {importances[index]:.3g})",
                "inputs": [names[i] for i in inputs],
                "axes": axes,
                "data": rows[:, list(inputs)],
            }
            if len(inputs) == 1:
                panel["curves"] = {output_names[o]: values[:, o] for o in outputs}
                if symbolic and len(outputs) == 1:
                    panel["symbolic"] = _symbolic_fit(axes[0], values[:, outputs[0]], names[inputs[0]])
            else:
                shown = outputs[0] if len(outputs) == 1 else int(np.argmax(np.abs(values).mean(0)))
                panel["surface"] = values[:, shown].reshape(len(grids[0]), len(grids[1]))
                panel["output"] = output_names[shown] if len(output_names) > 1 else None
            panels.append(panel)
        return plot_term_panels(panels, ncols=ncols)

    def _output_position(self, output, output_names):
        labels = self.classes_.tolist() if hasattr(self, "classes_") else list(range(len(output_names)))
        if hasattr(self, "classes_") and len(labels) == 2:
            raise ValueError("A binary classifier has one output (the second class's logit): leave output=None.")
        if output not in labels:
            raise ValueError(f"output must be one of {labels}, got {output!r}.")
        return labels.index(output)


def _symbolic_fit(x, y, name):
    """``(curve, label)`` of the best readable closed form of a curve, or None.

    The library's best-ranked fit with R^2 >= 0.99 over the data's range among those
    a person can read (:func:`skkan.symbolic._snapping.readable_fits`: at most two
    periods of a periodic function, no step-like tanh).
    """
    import sympy

    from .symbolic import LIBRARY, fit_symbolic, rank_candidates
    from .symbolic._snapping import readable_fits

    library = [function for key, function in LIBRARY.items() if key != "0"]
    fit = fit_symbolic(torch.as_tensor(x[None, :]), torch.as_tensor(y[None, :]), library)
    spans = torch.tensor([float(x.max() - x.min())], dtype=torch.float64)
    acceptable = (fit.r2 >= _SYMBOLIC_PANEL_R2) & readable_fits(library, fit.params, spans)
    scores = torch.where(acceptable, rank_candidates(fit, library), torch.full_like(fit.r2, float("inf")))[0]
    best = int(torch.argmin(scores))
    if not np.isfinite(float(scores[best])):
        return None
    function = library[best]
    a, b, c, d = (float(value) for value in fit.params[0, best])
    curve = c * function.numpy_function()(a * x + b) + d
    symbol = sympy.Symbol(name)
    expression = sympy.Float(c, 3) * function.sympy(sympy.Float(a, 3) * symbol + sympy.Float(b, 3)) + sympy.Float(d, 3)
    return curve, str(expression)
