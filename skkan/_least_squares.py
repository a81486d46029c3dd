"""Additive models solved directly: penalised least squares (and logistic regression), smoothing chosen by leave-one-out.

A KAN regressor without a hidden layer (and without pair terms) is linear in its
parameters: output ``o`` is ``bias_o + sum_i [w_b[o, i] * silu(x_i) + sum_f c[o, i, f] *
B_f(x_i)]`` on grids fitted to the data. Minimising the squared loss is then a linear
least-squares problem, and an iterative solver only approximates its solution while
fitting the noise as well as the signal: with hundreds of one-hot columns or a few
hundred rows, the unpenalised optimum overfits (benchmarks/tables.py: a ridge spline
model beat the Adam-trained additive KAN on most regression tables of the development
half).

:func:`fit_additive_least_squares` solves it exactly with a ridge penalty on every
weight (the bias is not penalised), choosing the penalty strength and, with
``grid_size="auto"``, the grid by exact leave-one-out cross-validation, in closed form
from the diagonal of the hat matrix (as scikit-learn's ``RidgeCV``). Leave-one-out,
not generalised cross-validation: GCV replaces every row's leverage by the mean, and
on data with a few high-leverage outliers (houses of unusual size in the Ames table)
it chose a tenth of the penalty and extrapolated them wildly. The Gram matrix of the
design is accumulated in row chunks (memory grows with the columns, not with the
rows), one symmetric eigendecomposition per grid serves every penalty, and a second
pass over the rows gives their left-out errors. Sample weights act as repeated rows
(scikit-learn's convention): a row of weight ``w`` is left out one copy at a time, so
the errors equal those of leave-one-out on the data with rows repeated.

Inputs with at most two distinct values (one-hot columns) take one column, their
base (silu) weight: two values need no spline, and the design stays small.

One ridge penalty shrinks every curve alike, while inputs differ in how smooth their
effect is. A second candidate therefore gives every input its own smoothing penalty
on the second differences of its spline coefficients (a P-spline, on a finer grid:
:data:`SMOOTHING_GRID`), the penalties chosen by maximising the marginal likelihood
(a Laplace approximation for two classes) with Wood and Fasiolo's (2017)
Fellner-Schall updates (:func:`_smoothing_penalties`); leave-one-out keeps whichever
of the two candidates predicts left-out rows better. The ridge stays the better one
where inputs take a few values each (a level per value, not a smooth curve) or a few
high-leverage rows dominate.

The additive classifier of two classes is linear in its weights too, up to the
logistic link: :func:`fit_additive_logistic` minimises the penalised cross-entropy
by Newton's method for each penalty and chooses the penalty by approximate
leave-one-out: the additive classifier of two classes, and the default classifier's
competitor (see ``ClassificationTargets.auto_competitors``).
"""

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "ALPHA_RATIOS",
    "BASE_PENALTY_RATIOS",
    "LOGISTIC_ALPHA_RATIOS",
    "MAX_COLUMNS",
    "SMOOTHING_GRID",
    "SMOOTHING_MAX_COLUMNS",
    "fit_additive_least_squares",
    "fit_additive_logistic",
]

#: Candidate penalties, relative to the mean diagonal of the centred Gram matrix (so
#: the same candidates serve data of any size and design of any width).
ALPHA_RATIOS = np.logspace(-9.0, 2.0, 23)
#: Candidate ratios of the penalty on the base (silu) weights to the one on the
#: spline coefficients, chosen by leave-one-out with the penalty (see :func:`_solve`).
BASE_PENALTY_RATIOS = 10.0 ** np.arange(-2.0, 4.0)
#: Widest design for which the ratio is searched (wider ones take the ratio 1).
RATIO_MAX_COLUMNS = 1000
#: Widest design solved in closed form (columns: basis functions of every spline
#: input plus one base column per input). Memory grows with its square and time with
#: its cube (an eigendecomposition of 3,000 columns takes a few seconds); wider
#: additive models are trained by the solver.
MAX_COLUMNS = 3000
#: Penalties tried for the binary classifier (relative as ALPHA_RATIOS, with the
#: logistic curvature at p = 1/2): fewer than for least squares, since each needs
#: Newton steps over the rows.
LOGISTIC_ALPHA_RATIOS = np.logspace(-6.0, 2.0, 17)
#: Largest design (rows x columns) held in memory for the logistic fit (64 MB; with
#: its centred copy and a weighted product the fit holds about three times that).
MAX_LOGISTIC_FLOATS = 8_000_000
_MAX_NEWTON_STEPS = 25
# Newton's method stops when a step changes no weight by more than this (relative).
_NEWTON_TOLERANCE = 1e-6
# Most rows whose approximate left-out errors choose the logistic penalty.
_LEFT_OUT_ROWS = 4096
# The path stops once the left-out error has risen for this many penalties in a row.
_PATH_RISES = 3
# Floats in one chunk of design rows (64 MB).
_CHUNK_FLOATS = 8_000_000
#: Grid of the smoothing candidate when the grid is chosen by the fit (``grid_size=
#: "auto"``): fine enough for sharp effects, since its penalties set the smoothness
#: (development half of benchmarks/tables.py: 10 and 40 intervals scored as 20).
SMOOTHING_GRID = 20
#: Widest design for which the smoothing candidate is fitted: each of its
#: marginal-likelihood steps inverts the penalised Gram matrix (columns cubed).
SMOOTHING_MAX_COLUMNS = 1000
# Fellner-Schall iterations: at most this many, ending when no penalty of an input that
# carries more than _ACTIVE_DEGREES degrees of freedom changes by more than _PENALTY_TOLERANCE
# (relative; a change of 1 % in a penalty moves the fit far less than the noise);
# penalties of inputs without effect grow without bound and are capped.
_MAX_PENALTY_STEPS = 200
_PENALTY_TOLERANCE = 1e-2
_ACTIVE_DEGREES = 0.05
_START_PENALTY = 1e-2
_PENALTY_RANGE = (1e-10, 1e10)
# Where an input's values separate the classes (all rows of a range in one class), the
# marginal likelihood drives its penalty to zero and its weights to infinity: the
# logistic fit keeps every penalty at least this (relative to the curvature scale).
_SMALLEST_LOGISTIC_PENALTY = 1e-6
# Outer iterations of the logistic smoothing fit (penalised iteratively reweighted
# least squares, the penalties updated at each).
_MAX_REWEIGHTING_STEPS = 100
_PROBABILITY_TOLERANCE = 1e-4
# The smoothing candidate is dropped when its effective degrees of freedom exceed this
# share of the rows, a safeguard besides the bound on its columns (smoothing_grid_for):
# a fit near interpolation has leave-one-out errors of 0 / 0, no guide.
_MAX_DEGREES_SHARE = 0.5


@dataclass
class LeastSquaresFit:
    """The chosen grid and penalty, and the training loss."""

    grid_size: int
    alpha: np.ndarray  # one per output
    training_loss: float
    method: str = "penalised least squares"
    #: The base weights' penalty over the spline coefficients', one per output.
    base_penalty_ratio: np.ndarray = field(default_factory=lambda: np.ones(1))
    #: The smoothing candidate's penalties (outputs, inputs with a spline + 1: the
    #: last penalises the base weights), relative to the mean diagonal of the Gram
    #: matrix; None when the ridge candidate was kept.
    smoothing_penalties: np.ndarray = None

    def summary(self):
        """One line on how the fit was chosen (for ``verbose`` output)."""
        if self.smoothing_penalties is not None:
            middle = np.median(self.smoothing_penalties[:, :-1], axis=1) if self.smoothing_penalties.shape[1] > 1 else (
                self.smoothing_penalties[:, -1]
            )
            return (
                f"{self.method}, a smoothing penalty per input (median {', '.join(f'{m:.3g}' for m in middle)}) "
                f"chosen by marginal likelihood: grid {self.grid_size}, kept over the ridge by leave-one-out"
            )
        ratios = "" if np.all(self.base_penalty_ratio == 1) else (
            f" (on the base weights times {', '.join(f'{r:g}' for r in self.base_penalty_ratio)})"
        )
        return (
            f"{self.method}: grid {self.grid_size}, "
            f"penalty {', '.join(f'{a:.3g}' for a in self.alpha)}{ratios} chosen by leave-one-out"
        )


def _two_valued(x, weight):
    """Columns of ``x`` with at most two distinct values among rows of positive weight."""
    rows = x[weight > 0]
    low, high = rows.min(dim=0).values, rows.max(dim=0).values
    return ((rows == low) | (rows == high)).all(dim=0)


def _design(layer, x, spline_inputs):
    """Design columns of rows ``x``: the basis of every spline input, then silu of every input."""
    basis = layer.basis(x)[:, spline_inputs, :].reshape(x.shape[0], -1)
    return torch.cat([basis, F.silu(x)], dim=1).double()


def _n_columns(n_inputs, n_spline_inputs, grid_size, spline_order):
    return n_spline_inputs * (grid_size + spline_order) + n_inputs


def _chunks(layer, data, spline_inputs):
    """Design, targets and weights of the rows of ``data``, in chunks, in float64 on the CPU."""
    columns = _n_columns(layer.in_features, int(spline_inputs.sum()), layer.grid_size, layer.spline_order)
    for positions in data.chunks(None, max(256, _CHUNK_FLOATS // columns)):
        x, target, weight = data.batch(positions)
        yield _design(layer, x, spline_inputs).cpu(), target.double().cpu(), weight.double().cpu()


def _gram(layer, data, spline_inputs, weight_factor):
    """Weighted sums of the design ``D``: ``D^T W D``, ``D^T W y``, ``D^T w``, ``y^T W y``, ``W y``, ``sum w``."""
    sums = None
    for design, target, weight in _chunks(layer, data, spline_inputs):
        weight = weight * weight_factor
        weighted = design * weight[:, None]
        part = (
            weighted.t() @ design,
            weighted.t() @ target,
            weighted.sum(dim=0),
            (target * target * weight[:, None]).sum(dim=0),
            (target * weight[:, None]).sum(dim=0),
            weight.sum(),
        )
        sums = part if sums is None else tuple(a + b for a, b in zip(sums, part))
    return tuple(s.numpy() for s in sums)


def _centred_sums(layer, data, spline_inputs, weight_factor):
    """Weighted sums of the design and targets about their weighted means (the
    intercept is not penalised): ``gram``, ``cross``, the targets' sum of squares
    ``total`` (per output), the means of the columns and of the targets, and ``sum w``."""
    gram, cross, column_sums, target_squares, target_sums, weight_sum = _gram(layer, data, spline_inputs, weight_factor)
    mean_column, mean_target = column_sums / weight_sum, target_sums / weight_sum
    gram = gram - weight_sum * np.outer(mean_column, mean_column)
    cross = cross - weight_sum * np.outer(mean_column, mean_target)
    total = target_squares - weight_sum * mean_target**2
    return gram, cross, total, mean_column, mean_target, weight_sum


def _solve(layer, data, spline_inputs, weight_factor):
    """Ridge solution on ``layer``'s grid with the penalties of least cross-validated error, per output.

    Two penalties: one on the spline coefficients, and :data:`BASE_PENALTY_RATIOS`
    times it on the base (silu) weights. Both parametrise an input's trend (a spline
    reproduces straight lines), and which should carry it varies by table: the
    development tables chose every ratio from 0.01 to 1000, and on the Ames table
    (40 categorical columns, one-hot) the ratio 1000 raised R^2 from 0.864 to 0.888. Each ratio
    is a ridge on rescaled base columns, so one Gram matrix and one eigendecomposition
    per ratio serve all penalties.

    The error is that of leaving out one row at a time (one copy of a row of
    weight ``w``: exactly leave-one-out on the data with rows repeated), in closed
    form from the hat matrix's diagonal. Returns ``(weights (p, outputs), intercept
    (outputs,), alpha (outputs,), error, rss (outputs,), ratio (outputs,))``: the error
    is the weighted mean of the left-out squared errors, summed over outputs.
    """
    gram, cross, total, mean_column, mean_target, weight_sum = _centred_sums(layer, data, spline_inputs, weight_factor)
    n_alphas, n_outputs = len(ALPHA_RATIOS), cross.shape[1]
    if not float(np.trace(gram)) / gram.shape[0] > 1e-12 * max(weight_sum, 1.0):
        # The design does not vary over the rows (constant inputs, or a single row of
        # positive weight): the best model is the (weighted) mean.
        error = float((np.clip(total, 0.0, None) / weight_sum).sum())
        no_penalty = np.full(n_outputs, np.inf)
        return np.zeros_like(cross), mean_target, no_penalty, error, np.clip(total, 0.0, None), np.ones(n_outputs)
    solutions = []
    # Every ratio costs an eigendecomposition and a pass over the rows: wide designs
    # (3,000 columns: 4 s each) keep the one penalty for all weights.
    ratios = BASE_PENALTY_RATIOS if gram.shape[0] <= RATIO_MAX_COLUMNS else np.ones(1)
    for ratio in ratios:
        column_scale = np.ones(gram.shape[0])
        column_scale[-layer.in_features :] = 1.0 / np.sqrt(ratio)
        scaled = gram * np.outer(column_scale, column_scale)
        eigenvalues, eigenvectors = np.linalg.eigh((scaled + scaled.T) / 2)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        projected = eigenvectors.T @ (cross * column_scale[:, None])  # (p, outputs)
        alphas = ALPHA_RATIOS * float(np.trace(scaled)) / gram.shape[0]
        inverse = 1.0 / (eigenvalues[None, :] + alphas[:, None])  # (alphas, p)
        per_alpha = (inverse[:, :, None] * projected[None, :, :]).transpose(1, 0, 2).reshape(-1, n_alphas * n_outputs)
        solutions.append((column_scale, eigenvalues, eigenvectors, projected, alphas, inverse, per_alpha))
    # Left-out residual of a row: e / (1 - h), h = 1 / sum(w) + q^T diag(inverse) q with
    # q the row's centred (rescaled) design in the eigenbasis (the intercept is not penalised).
    errors = np.zeros((len(solutions), n_alphas, n_outputs))
    for design, target, weight in _chunks(layer, data, spline_inputs):
        weight = weight.numpy() * weight_factor
        centred = design.numpy() - mean_column
        residual_target = (target.numpy() - mean_target)[:, None, :]
        for index, (column_scale, _, eigenvectors, _, _, inverse, per_alpha) in enumerate(solutions):
            rotated = (centred * column_scale) @ eigenvectors  # (rows, p)
            leverage = 1.0 / weight_sum + (rotated**2) @ inverse.T  # (rows, alphas)
            fitted = (rotated @ per_alpha).reshape(-1, n_alphas, n_outputs)  # centred predictions
            left_out = (residual_target - fitted) / np.clip(1.0 - leverage, 1e-12, None)[:, :, None]
            errors[index] += np.einsum("r,rao->ao", weight, left_out**2)
    errors /= weight_sum
    weights, alpha, rss = np.zeros_like(cross), np.zeros(n_outputs), np.zeros(n_outputs)
    chosen, error = np.zeros(n_outputs), 0.0
    for output in range(n_outputs):
        index, best = np.unravel_index(np.argmin(errors[:, :, output]), errors.shape[:2])
        column_scale, eigenvalues, eigenvectors, projected, alphas, inverse, _ = solutions[index]
        shrink, projection = inverse[best], projected[:, output]
        weights[:, output] = column_scale * (eigenvectors @ (projection * shrink))
        alpha[output], chosen[output] = alphas[best], ratios[index]
        rss[output] = total[output] - ((eigenvalues * shrink + 2 * (1 - eigenvalues * shrink)) * shrink * projection**2).sum()
        error += float(errors[index, best, output])
    intercept = mean_target - mean_column @ weights
    return weights, intercept, alpha, error, np.clip(rss, 0.0, None), chosen


def _smoothing_blocks(n_spline, n_basis, n_base):
    """The smoothing candidate's penalised blocks of the design of :func:`_design`.

    ``(columns, penalty, rank)`` per input with a spline: the squared second
    differences of its coefficients plus the square of their mean (which the intercept
    leaves unidentified, since the basis sums to one), so only a straight trend is
    free; then one ridge block over the base (silu) columns.
    """
    difference = np.diff(np.eye(n_basis), n=2, axis=0)
    penalty = difference.T @ difference + np.full((n_basis, n_basis), 1.0 / n_basis)
    blocks = [(slice(i * n_basis, (i + 1) * n_basis), penalty, n_basis - 1) for i in range(n_spline)]
    start = n_spline * n_basis
    blocks.append((slice(start, start + n_base), np.eye(n_base), n_base))
    return blocks


def _smoothing_penalties(
    gram, cross, blocks, scale, total=None, rows=None, penalties=None, max_steps=_MAX_PENALTY_STEPS,
    smallest=_PENALTY_RANGE[0],
):
    """Penalised solution ``beta`` of ``(gram + S) beta = cross``, ``S = sum_j lambda_j S_j``,
    with the penalties ``lambda_j`` that maximise the marginal likelihood.

    Fellner-Schall updates (Wood and Fasiolo 2017), one per step:
    ``lambda_j <- phi (rank S_j - lambda_j tr(H^-1 S_j)) / (beta^T S_j beta)`` with
    ``H = gram + S``; the numerator is the block's effective degrees of freedom. With
    ``total`` (the centred targets' weighted sum of squares) the scale ``phi`` is
    estimated, ``rss / (rows - edf)`` (least squares); without it ``phi = 1`` (the
    working model of logistic regression). Columns outside every block are not
    penalised. At most ``max_steps`` updates; no penalty below ``smallest`` times
    ``scale``. Returns ``(beta, the penalties it was
    solved with, inverse of H, the next penalties, whether they settled)``.
    """
    from scipy.linalg import cho_factor, cho_solve

    n_columns = gram.shape[0]
    # A first call starts weakly penalised, so that every input carries degrees of
    # freedom, and cannot settle before its first update.
    may_settle = penalties is not None
    penalties = np.full(len(blocks), _START_PENALTY * scale) if penalties is None else penalties.copy()
    ranks = np.array([rank for *_, rank in blocks], dtype=float)
    low, high = smallest * scale, _PENALTY_RANGE[1] * scale
    jitter = 1e-10 * scale
    identity = np.eye(n_columns)
    for _ in range(max_steps):
        hessian = gram + jitter * identity
        for (columns, penalty, _), value in zip(blocks, penalties):
            hessian[columns, columns] += value * penalty
        factor = cho_factor(hessian)
        beta = cho_solve(factor, cross)
        inverse = cho_solve(factor, identity)
        traces = np.array([np.sum(inverse[columns, columns] * penalty) for columns, penalty, _ in blocks])
        degrees = ranks - penalties * traces
        phi = 1.0
        if total is not None:
            rss = max(float(total - 2 * beta @ cross + beta @ gram @ beta), 0.0)
            effective = n_columns - jitter * np.trace(inverse) - float(penalties @ traces)
            phi = max(rss, np.finfo(float).tiny) / max(rows - effective, 1.0)
        quadratic = np.array([beta[columns] @ penalty @ beta[columns] for columns, penalty, _ in blocks])
        with np.errstate(over="ignore"):  # an input without effect: its penalty goes to the cap
            updated = np.clip(
                phi * np.clip(degrees, 1e-12, None) / np.clip(quadratic, np.finfo(float).tiny, None), low, high
            )
        # The penalties of inputs without effect (almost no degrees of freedom) wander
        # near the cap, where the update is a ratio of two vanishing numbers; the
        # others must settle.
        active = degrees > _ACTIVE_DEGREES
        settled = may_settle and (
            not np.any(active) or np.max(np.abs(np.log(updated[active] / penalties[active]))) < _PENALTY_TOLERANCE
        )
        if settled:
            break
        used, penalties, may_settle = penalties, updated, True
    else:
        return beta, used, inverse, penalties, False
    return beta, penalties, inverse, penalties, True


def _solve_smoothing(layer, data, spline_inputs, weight_factor):
    """The smoothing candidate on ``layer``'s grid: a second-difference penalty per
    spline input and a ridge on the base weights, chosen by marginal likelihood (see
    :func:`_smoothing_penalties`), per output; None when the design does not vary or
    the fit spends more than :data:`_MAX_DEGREES_SHARE` of the rows on its degrees of
    freedom.

    Returns ``(weights (p, outputs), intercept (outputs,), penalties (outputs, blocks),
    error, rss (outputs,))``, ``error`` and ``penalties`` as :func:`_solve`'s error and
    alphas (leave-one-out, and relative to the mean diagonal of the centred Gram matrix).
    """
    gram, cross, total, mean_column, mean_target, weight_sum = _centred_sums(layer, data, spline_inputs, weight_factor)
    scale = float(np.trace(gram)) / gram.shape[0]
    if not scale > 1e-12 * max(weight_sum, 1.0):
        return None
    blocks = _smoothing_blocks(int(spline_inputs.sum()), layer.coef.shape[-1], layer.in_features)
    n_outputs = cross.shape[1]
    weights, penalties, inverses = np.zeros_like(cross), np.zeros((n_outputs, len(blocks))), []
    for output in range(n_outputs):
        beta, penalties[output], inverse, *_ = _smoothing_penalties(
            gram, cross[:, output], blocks, scale, total=total[output], rows=weight_sum - 1.0
        )
        weights[:, output] = beta
        inverses.append(inverse)
    if max(np.sum(inverse * gram) for inverse in inverses) > _MAX_DEGREES_SHARE * weight_sum:
        return None
    errors = np.zeros(n_outputs)
    for design, target, weight in _chunks(layer, data, spline_inputs):
        weight = weight.numpy() * weight_factor
        centred = design.numpy() - mean_column
        residual = target.numpy() - mean_target - centred @ weights
        for output, inverse in enumerate(inverses):
            leverage = 1.0 / weight_sum + np.einsum("rc,rc->r", centred @ inverse, centred)
            left_out = residual[:, output] / np.clip(1.0 - leverage, 1e-12, None)
            errors[output] += weight @ left_out**2
    rss = np.clip(total - 2 * np.einsum("po,po->o", weights, cross) + np.einsum("po,pq,qo->o", weights, gram, weights), 0.0, None)
    intercept = mean_target - mean_column @ weights
    return weights, intercept, penalties / scale, float(errors.sum() / weight_sum), rss


def smoothing_grid_for(grid_size, n_inputs, n_spline, spline_order, grid_chosen, n_rows):
    """Grid of the smoothing candidate, or None when even ``grid_size`` is too wide for it.

    ``grid_size`` itself when the user set the grid; else :data:`SMOOTHING_GRID`
    (never coarser than ``grid_size``), halved while the design is wider than
    :data:`SMOOTHING_MAX_COLUMNS` or has more columns than ``n_rows`` (rows, a
    weighted row counting as its copies): with more columns than rows the marginal
    likelihood can drive the penalties to zero and interpolate.
    """
    widest = min(SMOOTHING_MAX_COLUMNS, n_rows)
    grid = max(grid_size, SMOOTHING_GRID) if grid_chosen else grid_size
    while grid > grid_size and _n_columns(n_inputs, n_spline, grid, spline_order) > widest:
        grid = max(grid_size, grid // 2)
    return grid if _n_columns(n_inputs, n_spline, grid, spline_order) <= widest else None


@torch.no_grad()
def fit_additive_least_squares(
    module, data, grid_sizes, grid_eps, generator, grid_rows, adapt_grids=True, grid_chosen=False
):
    """Fit the one-layer ``module`` to ``data`` in closed form.

    Two candidates, the one of lower leave-one-out error kept: one ridge penalty for
    all weights (its grid searched among ``grid_sizes``), and a smoothing penalty per
    input (see :func:`_solve_smoothing`; on :data:`SMOOTHING_GRID` intervals when the
    grid is the fit's to choose). Returns a :class:`LeastSquaresFit`, or None (and
    ``module`` unchanged) when even the first grid makes a design wider than
    :data:`MAX_COLUMNS`.

    Parameters
    ----------
    module : skkan.nn.KAN
        A network of one layer (inputs -> outputs); its grid, weights and bias are set.
    data : TrainingData
        All training rows (no validation split: leave-one-out needs none).
    grid_sizes : sequence of int
        Grids to try, in increasing order; the search stops at the first that does
        not lower the leave-one-out error.
    grid_eps : float
        Blend of uniform and quantile knots (see :meth:`KANLayer.update_grid`).
    generator : torch.Generator
        Picks the rows the grids are fitted to when there are more than ``grid_rows``.
    grid_rows : int
    adapt_grids : bool, default=True
        Fit every grid's knots to the data's quantiles. False: the layer's grid is
        the first of ``grid_sizes`` (and the others refine it).
    grid_chosen : bool, default=False
        Whether the grid is the fit's to choose (``grid_size="auto"``); else the
        smoothing candidate keeps the first of ``grid_sizes``.
    """
    layer = module.layers[0]
    x_grid, _, w_grid = data.batch(data.random_positions(grid_rows, generator))
    x_all, _, w_all = data.batch()  # two values in a subset of rows may be more in all
    spline_inputs = ~_two_valued(x_all, w_all).cpu()
    n_spline = int(spline_inputs.sum())
    grid_sizes = [
        g for g in grid_sizes if _n_columns(layer.in_features, n_spline, g, layer.spline_order) <= MAX_COLUMNS
    ]
    if not grid_sizes:
        return None
    # Sample weights count as repeated rows.
    weight_sum = data.weight_sum()
    weight_factor = _weight_factor(data, w_all)
    del x_all, w_all
    best = None
    for grid_size in grid_sizes:
        _place_grid(layer, grid_size, x_grid, w_grid, grid_eps, adapt_grids)
        weights, intercept, alpha, error, rss, ratio = _solve(layer, data, spline_inputs, weight_factor)
        if best is not None and not error < best[0]:
            break
        best = (error, grid_size, layer.grid.clone(), weights, intercept, alpha, rss, ratio)
    # Training loss in the estimators' units: the weighted mean squared error per output.
    rows = max(weight_sum * weight_factor, np.finfo(np.float64).tiny)
    smooth_grid = smoothing_grid_for(
        grid_sizes[0], layer.in_features, n_spline, layer.spline_order, grid_chosen, weight_sum * weight_factor
    )
    if smooth_grid is not None:
        _place_grid(layer, smooth_grid, x_grid, w_grid, grid_eps, adapt_grids)
        smoothing = _solve_smoothing(layer, data, spline_inputs, weight_factor)
        if smoothing is not None and smoothing[3] < best[0]:
            weights, intercept, penalties, _, rss = smoothing
            _set_weights(layer, spline_inputs, weights, intercept)
            return LeastSquaresFit(
                grid_size=smooth_grid, alpha=np.median(penalties, axis=1), training_loss=float(np.mean(rss) / rows),
                smoothing_penalties=penalties,
            )
    _, grid_size, grid, weights, intercept, alpha, rss, ratio = best
    _restore_grid(layer, grid)
    _set_weights(layer, spline_inputs, weights, intercept)
    return LeastSquaresFit(
        grid_size=grid_size, alpha=np.asarray(alpha), training_loss=float(np.mean(rss) / rows),
        base_penalty_ratio=np.asarray(ratio),
    )


def _place_grid(layer, grid_size, x_grid, w_grid, grid_eps, adapt_grids, keep_curves=False):
    """Put ``layer`` on ``grid_size`` intervals, its knots at the quantiles of
    ``x_grid`` when ``adapt_grids``; the coefficients are zeroed for the solve that
    follows unless ``keep_curves``."""
    if grid_size != layer.grid_size:
        layer.refine(grid_size, keep_curves=keep_curves)
    if adapt_grids:
        layer.update_grid(x_grid, grid_eps=grid_eps, sample_weight=w_grid, keep_curves=keep_curves)


def _restore_grid(layer, grid):
    """Put ``layer`` back on ``grid`` (a grid it had, kept by a candidate that won),
    its coefficients zeroed for the weights that follow."""
    grid_size = grid.shape[1] - 2 * layer.spline_order - 1
    if layer.grid_size != grid_size:
        layer.refine(grid_size, keep_curves=False)
    layer.grid.copy_(grid)


def _set_weights(layer, spline_inputs, weights, intercept):
    """Set ``layer``'s spline coefficients, base weights and bias from a solution over
    the design of :func:`_design` (``weights`` of shape (columns, outputs))."""
    n_spline = int(spline_inputs.sum())
    n_basis = layer.coef.shape[-1]
    spline_part, base_part = weights[: n_spline * n_basis], weights[n_spline * n_basis :]
    coef = torch.zeros(layer.out_features, layer.in_features, n_basis, dtype=torch.float64)
    coef[:, spline_inputs, :] = torch.from_numpy(spline_part.T.reshape(layer.out_features, n_spline, n_basis))
    as_layer = dict(device=layer.coef.device, dtype=layer.coef.dtype)
    layer.coef.copy_(coef.to(**as_layer))
    layer.scale_spline.fill_(1.0)
    layer.scale_base.copy_(torch.from_numpy(np.ascontiguousarray(base_part.T)).to(**as_layer))
    layer.bias.copy_(torch.from_numpy(np.asarray(intercept, dtype=np.float64)).to(**as_layer))


def _weight_factor(data, weight):
    """Scale of sample weights so that they count as repeated rows; weights that sum to
    less than the rows (e.g. normalised to sum to 1) count each row once on average."""
    weight_sum = data.weight_sum()
    n_weighted = float((weight > 0).sum())
    return n_weighted / weight_sum if 0 < weight_sum < n_weighted else 1.0


def _binary_cross_entropy(logit, target):
    """Per-row cross-entropy of logits against 0/1 targets, stable for large logits."""
    return np.logaddexp(0.0, logit) - target * logit


@torch.no_grad()
def fit_additive_logistic(module, data, grid_size, grid_eps, generator, grid_rows, adapt_grids=True, grid_chosen=False):
    """Fit the one-layer, one-output ``module`` to binary ``data`` by penalised logistic regression.

    The additive logit is linear in the weights, as the regressor's output is: the
    penalised cross-entropy is convex, and Newton's method (iteratively reweighted
    least squares, with a backtracking line search) solves it for each penalty of
    :data:`LOGISTIC_ALPHA_RATIOS`, from the strongest down, each from the last
    solution. The penalty is chosen by approximate leave-one-out cross-entropy: the
    logit of a row left out (one copy of a weighted row) is one Newton step away,
    ``eta + (p - y) q / (1 - p (1 - p) q)`` with ``q`` the row's leverage under the
    penalised Hessian. ``adapt_grids=False`` keeps the layer's grid (else its knots
    are fitted to the data's quantiles). Returns a :class:`LeastSquaresFit`
    (``training_loss``: the weighted mean cross-entropy), or None (``module``
    unchanged) for more than one output or a design too large to hold
    (:data:`MAX_LOGISTIC_FLOATS`).

    That ridge competes with a smoothing penalty per input (see
    :func:`_logistic_smoothing`; on :data:`SMOOTHING_GRID` intervals when
    ``grid_chosen``, the grid being the fit's to choose); the lower approximate
    leave-one-out cross-entropy, on the same rows, is kept.
    """
    from scipy.linalg import cho_factor, cho_solve, solve_triangular
    from scipy.special import expit

    layer = module.layers[0]
    if layer.out_features != 1:
        return None
    x_all, target_all, w_all = data.batch()
    spline_inputs = ~_two_valued(x_all, w_all).cpu()
    columns = _n_columns(layer.in_features, int(spline_inputs.sum()), grid_size, layer.spline_order)
    if columns > MAX_COLUMNS or (columns + 1) * x_all.shape[0] > MAX_LOGISTIC_FLOATS:
        return None
    x_grid, _, w_grid = data.batch(data.random_positions(grid_rows, generator))
    _place_grid(layer, grid_size, x_grid, w_grid, grid_eps, adapt_grids, keep_curves=True)
    design = _design(layer, x_all, spline_inputs).cpu().numpy()
    target = target_all.double().cpu().numpy().reshape(-1)
    weight = w_all.double().cpu().numpy() * _weight_factor(data, w_all)
    del target_all, w_all
    weight_sum = float(weight.sum())
    mean_column = weight @ design / weight_sum
    # Centred columns and an unpenalised intercept last.
    X = np.hstack([design - mean_column, np.ones((len(design), 1))])
    del design
    penalised = np.ones(X.shape[1])
    penalised[-1] = 0.0
    scale = float(np.einsum("r,rc,rc->", 0.25 * weight, X[:, :-1], X[:, :-1])) / max(X.shape[1] - 1, 1)
    if not scale > 1e-12 * max(weight_sum, 1.0):
        return None  # no variation: nothing for a closed form to do better than the solver

    def objective(beta, alpha):
        return float(weight @ _binary_cross_entropy(X @ beta, target) + 0.5 * alpha * (penalised * beta) @ beta)

    beta = np.zeros(X.shape[1])
    prior = np.clip((weight @ target) / weight_sum, 1e-6, 1 - 1e-6)
    beta[-1] = np.log(prior / (1 - prior))
    # Rows whose left-out errors estimate the cross-validated loss: all of them up to
    # _LEFT_OUT_ROWS, evenly spaced beyond (the estimate is a mean over rows).
    scored = np.unique(np.linspace(0, len(X) - 1, min(len(X), _LEFT_OUT_ROWS)).round().astype(int))
    best, rises = None, 0
    for alpha in LOGISTIC_ALPHA_RATIOS[::-1] * scale:
        ridge = np.diag(alpha * penalised + 1e-10 * scale)
        for _ in range(_MAX_NEWTON_STEPS):
            probability = expit(X @ beta)
            gradient = X.T @ (weight * (probability - target)) + alpha * penalised * beta
            curvature = weight * probability * (1 - probability)
            hessian = (X * curvature[:, None]).T @ X + ridge
            try:
                factor = cho_factor(hessian)
                step = cho_solve(factor, gradient)
            except np.linalg.LinAlgError:
                factor, step = None, np.linalg.lstsq(hessian, gradient, rcond=None)[0]
            size = _halved_step(lambda point, alpha=alpha: objective(point, alpha), beta, -step, -(gradient @ step))
            beta = beta - size * step
            if np.max(np.abs(size * step)) <= _NEWTON_TOLERANCE * (1.0 + np.max(np.abs(beta))):
                break
        if factor is None:
            continue
        # Leverages under the last step's Hessian (the step that ended Newton's
        # method changed the weights by less than the tolerance).
        rows = X[scored]
        upper = np.triu(factor[0]) if not factor[1] else np.tril(factor[0]).T
        leverage = np.sum(solve_triangular(upper, rows.T, trans="T") ** 2, axis=0)
        error = _left_out_cross_entropy(rows @ beta, leverage, target[scored], weight[scored])
        if best is None or error < best[0]:
            best, rises = (error, alpha, beta.copy()), 0
        else:
            rises += 1
            if rises >= _PATH_RISES:
                break  # past the minimum along the path
    if best is None:
        return None
    error, alpha, beta = best
    training_loss = float(weight @ _binary_cross_entropy(X @ beta, target)) / weight_sum
    n_spline = int(spline_inputs.sum())
    smooth_grid = smoothing_grid_for(grid_size, layer.in_features, n_spline, layer.spline_order, grid_chosen, weight_sum)
    if smooth_grid is not None and (
        _n_columns(layer.in_features, n_spline, smooth_grid, layer.spline_order) + 1
    ) * len(target) <= MAX_LOGISTIC_FLOATS:
        ridge_grid = layer.grid.clone()
        _place_grid(layer, smooth_grid, x_grid, w_grid, grid_eps, adapt_grids)
        smooth_design = _design(layer, x_all, spline_inputs).cpu().numpy()
        blocks = _smoothing_blocks(n_spline, layer.coef.shape[-1], layer.in_features)
        smoothing = _logistic_smoothing(smooth_design, target, weight, blocks, scored)
        if smoothing is not None and smoothing[0] < error:
            _, smooth_beta, smooth_mean, penalties, smooth_loss = smoothing
            intercept = np.array([smooth_beta[-1] - smooth_mean @ smooth_beta[:-1]])
            _set_weights(layer, spline_inputs, smooth_beta[:-1, None], intercept)
            return LeastSquaresFit(
                grid_size=smooth_grid, alpha=np.median(penalties, axis=1), training_loss=smooth_loss,
                method="penalised logistic regression", smoothing_penalties=penalties,
            )
        _restore_grid(layer, ridge_grid)
    weights = beta[:-1, None]
    intercept = np.array([beta[-1] - mean_column @ beta[:-1]])
    _set_weights(layer, spline_inputs, weights, intercept)
    return LeastSquaresFit(
        grid_size=grid_size, alpha=np.array([alpha]), training_loss=training_loss,
        method="penalised logistic regression",
    )


def _left_out_cross_entropy(logit, leverage, target, weight):
    """Approximate leave-one-out cross-entropy (weighted mean) of rows of logits ``logit``
    and leverages ``leverage`` under the penalised Hessian: a row's left-out logit is one
    Newton step away, ``eta + (p - y) q / (1 - p (1 - p) q)``."""
    from scipy.special import expit

    probability = expit(logit)
    curvature = probability * (1 - probability)
    left_out = logit + (probability - target) * leverage / np.clip(1 - curvature * leverage, 1e-12, None)
    return float(weight @ _binary_cross_entropy(left_out, target)) / float(weight.sum())


def _halved_step(objective, start, direction, slope=0.0):
    """The step along ``direction`` from ``start``, halved from 1 (down to 1e-6) until
    ``objective`` falls by at least 1e-4 of ``slope`` per unit step (Armijo's rule; a
    slope of 0 asks for no rise)."""
    begin, size = objective(start), 1.0
    while objective(start + size * direction) > begin + 1e-4 * size * slope and size > 1e-6:
        size /= 2
    return size


def _backtrack(X, target, weight, blocks, penalties, start, step_end):
    """The point from ``start`` towards ``step_end`` (a full Newton step) where the
    penalised cross-entropy has not risen (see :func:`_halved_step`; a full step
    overshoots where some rows are nearly separated and the curvature vanishes)."""

    def objective(beta):
        penalty = sum(value * (beta[columns] @ matrix @ beta[columns]) for (columns, matrix, _), value in zip(blocks, penalties))
        return float(weight @ _binary_cross_entropy(X @ beta, target)) + 0.5 * penalty

    direction = step_end - start
    return start + _halved_step(objective, start, direction) * direction


def _logistic_smoothing(design, target, weight, blocks, scored):
    """The logistic smoothing candidate: penalised iteratively reweighted least squares
    whose penalties (one per block of :func:`_smoothing_blocks`) maximise, at every
    step, the working model's marginal likelihood (Wood's performance iteration, with
    :func:`_smoothing_penalties`).

    Returns ``(approximate left-out cross-entropy of the rows ``scored``, weights with
    the intercept last (centred columns), the columns' means, penalties relative to
    the curvature scale (1, blocks), training cross-entropy)``, or None when the
    iteration does not settle, a matrix is not positive definite, or the fit spends
    more than :data:`_MAX_DEGREES_SHARE` of the rows on its degrees of freedom.
    """
    from scipy.special import expit

    weight_sum = float(weight.sum())
    mean_column = weight @ design / weight_sum
    X = np.hstack([design - mean_column, np.ones((len(design), 1))])
    scale = float(np.einsum("r,rc,rc->", 0.25 * weight, X[:, :-1], X[:, :-1])) / max(X.shape[1] - 1, 1)
    if not scale > 1e-12 * max(weight_sum, 1.0):
        return None
    beta = np.zeros(X.shape[1])
    prior = np.clip((weight @ target) / weight_sum, 1e-6, 1 - 1e-6)
    beta[-1] = np.log(prior / (1 - prior))
    upcoming, previous = None, None
    try:
        # Wood's performance iteration: the penalties of each step's working model
        # (weighted least squares) maximise its marginal likelihood, then a Newton step
        # for them, halved until the penalised cross-entropy falls. One penalty update
        # per step instead wandered without settling (a loans table: 85 steps). The fit
        # has settled when no probability moves (weights of rows the classes separate
        # keep growing).
        for _ in range(_MAX_REWEIGHTING_STEPS):
            probability = expit(X @ beta)
            if previous is not None and np.max(np.abs(probability - previous)) <= _PROBABILITY_TOLERANCE:
                break
            previous = probability
            curvature = weight * probability * (1 - probability)
            gram = (X * curvature[:, None]).T @ X
            # The working response's cross product: X^T W z with z = eta + (y - p) / (p (1 - p)).
            cross = gram @ beta + X.T @ (weight * (target - probability))
            updated, penalties, inverse, upcoming, _ = _smoothing_penalties(
                gram, cross, blocks, scale, penalties=upcoming, smallest=_SMALLEST_LOGISTIC_PENALTY
            )
            beta = _backtrack(X, target, weight, blocks, penalties, beta, updated)
        else:
            return None
    except np.linalg.LinAlgError:
        return None
    if np.sum(inverse * gram) > _MAX_DEGREES_SHARE * weight_sum:
        return None
    rows = X[scored]
    leverage = np.einsum("rc,rc->r", rows @ inverse, rows)
    error = _left_out_cross_entropy(rows @ beta, leverage, target[scored], weight[scored])
    training_loss = float(weight @ _binary_cross_entropy(X @ beta, target)) / weight_sum
    return error, beta, mean_column, penalties[None, :] / scale, training_loss
