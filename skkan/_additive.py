"""Additive KANs with pairwise interactions: structure, pair ranking and terms.

An additive KAN with interactions is an ordinary two-layer KAN whose first layer is
masked: every hidden node sees one input (the main effect of that input) or the two
inputs of a pair (:data:`PAIR_WIDTH` nodes per pair: a small KAN of two inputs). The
output layer adds a curve of every hidden node, so the prediction is a sum of terms,
one per set of inputs that hidden nodes see, plus the output bias. Because the model
is a plain :class:`~skkan.nn.KAN`, training, pruning, snapping, formulas, plots and
saving need nothing new, and the terms are read back from the masks (so they follow
pruning). A network without a hidden layer is the additive model without pairs: one
term per input edge.

Pairs are ranked as Explainable Boosting Machines' FAST ranks them (Lou et al.,
2013): fit the main effects, take the residuals of the loss (its negative gradient
with respect to the outputs), and measure for every pair how much of them a step
function on a grid of quantile bins of the two inputs explains beyond what steps in
each input alone explain, on rows held out from the step function's fit.
"""

from dataclasses import dataclass, replace
from numbers import Integral
from statistics import NormalDist

import numpy as np
import torch

from .nn import KAN

__all__ = [
    "AUTO_MAX_PAIRS",
    "PAIR_WIDTH",
    "Terms",
    "average_with_additive",
    "check_interactions",
    "choose_pairs",
    "distinct_inputs",
    "interaction_structure",
    "pair_marginals",
    "plan_interactions",
    "purify",
    "rank_pairs",
    "significantly_positive",
    "term_contributions",
    "terms_of",
]

#: Hidden nodes of every pair term (a KAN of shape [2, PAIR_WIDTH] inside the network).
PAIR_WIDTH = 5
#: At most this many pairs with ``interactions="auto"``. Explainable Boosting's
#: default was 10 too; interpret 0.7 takes three (classifier) or five (regressor)
#: times the number of features. Here the significance tests keep the sets small: a
#: cap of 30 changed the pairs of 2 of 20 development tables (ROC AUC / R2 within
#: 0.005) and doubled the fit time.
AUTO_MAX_PAIRS = 10
# Chance that "auto" takes a pair of unrelated inputs as useful, over all pairs ranked.
_FALSE_PAIR_RATE = 0.05
# "auto" keeps pairs when they lower the out-of-fold loss significantly (one-sided, at
# this level over the sets of pairs tried).
_PAIRS_KEPT_RATE = 0.05
# Pairs are ranked among the inputs whose main effects vary most, at most this many
# (so ranking stays quick with hundreds of one-hot columns: 528 pairs).
_MAX_RANKED_INPUTS = 33
# Inputs whose quantile bins are this correlated count as one for pair ranking.
_SAME_BINS_CORRELATION = 0.99
# The test that pairs lower the out-of-fold loss trims this fraction of the per-row
# differences at each end (Yuen's trimmed mean): a half fit that is wildly off on two
# rows (an additive model of computer prices on rows at the far end of two inputs that
# few fitted rows share: 63 % of its held-out loss) otherwise decides the test alone.
_TRIMMED_FRACTION = 0.01
# Rows used to rank pairs (a random subset of larger data), per half.
_RANKING_ROWS = 25_000


def check_interactions(interactions, hidden_layer_sizes, n_features, feature_names=None):
    """The ``interactions`` hyperparameter, validated: 0, a positive int, ``"auto"`` or pairs.

    Returns
    -------
    int, str or tuple of (int, int)
        Pairs are sorted index pairs ``(i, j)`` with ``i < j``, without repeats.
    """
    if isinstance(interactions, str):
        if interactions != "auto":
            raise ValueError(f"interactions must be 0, a positive int, 'auto' or a list of pairs, got {interactions!r}.")
        resolved = interactions
    elif isinstance(interactions, (Integral, np.integer)) and not isinstance(interactions, bool):
        if interactions < 0:
            raise ValueError(f"interactions must be >= 0, got {interactions}.")
        resolved = int(interactions)
    else:
        resolved = _check_pairs(interactions, n_features, feature_names)
    if resolved and not (isinstance(hidden_layer_sizes, str) or len(_as_tuple(hidden_layer_sizes)) == 0):
        raise ValueError(
            "interactions adds pair terms to the additive model, which has no hidden layer: "
            f"use hidden_layer_sizes=() (or 'auto') with interactions={interactions!r}, "
            f"not hidden_layer_sizes={hidden_layer_sizes!r}."
        )
    return resolved


def _as_tuple(sizes):
    return (sizes,) if isinstance(sizes, (Integral, np.integer)) else tuple(sizes)


def _check_pairs(pairs, n_features, feature_names):
    names = None if feature_names is None else [str(name) for name in feature_names]
    try:
        entries = [tuple(pair) for pair in pairs]
    except TypeError:
        raise ValueError(
            f"interactions must be 0, a positive int, 'auto' or a list of pairs, got {pairs!r}."
        ) from None
    resolved = set()
    for pair in entries:
        if len(pair) != 2:
            raise ValueError(f"Every interaction must be a pair of two inputs, got {pair!r}.")
        indices = tuple(_input_index(item, n_features, names) for item in pair)
        if indices[0] == indices[1]:
            raise ValueError(f"An interaction pairs two different inputs, got {pair!r}.")
        resolved.add(tuple(sorted(indices)))
    return tuple(sorted(resolved))


def _input_index(item, n_features, names):
    if isinstance(item, str):
        if names is None or item not in names:
            raise ValueError(f"Unknown feature {item!r} in interactions (features: {names}).")
        return names.index(item)
    if isinstance(item, (Integral, np.integer)) and not isinstance(item, bool) and 0 <= item < n_features:
        return int(item)
    raise ValueError(f"Interaction inputs must be feature indices in [0, {n_features}) or feature names, got {item!r}.")


def interaction_structure(n_features, pairs, pair_width=None):
    """Hidden width and first-layer mask of the additive network with ``pairs``.

    Returns
    -------
    width : int
        ``n_features + pair_width * len(pairs)``: one node per input, then the pairs'.
    mask : ndarray of shape (width, n_features)
        1 where a hidden node sees an input.
    """
    pair_width = PAIR_WIDTH if pair_width is None else pair_width
    width = n_features + pair_width * len(pairs)
    mask = np.zeros((width, n_features))
    mask[np.arange(n_features), np.arange(n_features)] = 1.0
    for index, (a, b) in enumerate(pairs):
        rows = slice(n_features + pair_width * index, n_features + pair_width * (index + 1))
        mask[rows, a] = mask[rows, b] = 1.0
    return width, mask


def plan_interactions(X, encoded, sample_weight, config, interactions, random_state):
    """The training settings of the additive model with the pairs that ``interactions`` asks for.

    With a number or ``"auto"`` the pairs come from :func:`choose_pairs`.

    Returns
    -------
    config : TrainingConfig
        With one hidden layer and its mask (no hidden layer when no pair is chosen).
    pairs : tuple of (int, int)
    """
    n_features = X.shape[1]
    if isinstance(interactions, tuple):
        pairs = interactions
    else:
        pairs = choose_pairs(X, encoded, sample_weight, config, interactions, random_state)
    if not pairs:
        return replace(config, hidden_sizes=(), layer_masks=()), ()
    width, mask = interaction_structure(n_features, pairs)
    return replace(config, hidden_sizes=(width,), layer_masks=(mask,)), tuple(pairs)


def choose_pairs(X, encoded, sample_weight, config, interactions, random_state):
    """Pairs for ``interactions`` (a number or ``"auto"``), chosen on out-of-fold residuals.

    The rows are split in two halves. An additive model (the same settings, no pairs)
    is fitted on each half and its residuals taken on the other: residuals of the rows
    a model was fitted on would hide what it overfits. The pairs of the inputs whose
    main effects vary most (:func:`distinct_inputs`) are ranked on those residuals
    (:func:`rank_pairs`). A number keeps that many of the best; ``"auto"``
    tries two sets of up to :data:`AUTO_MAX_PAIRS`, the best pairs whose held-out score
    is significant family-wise and those whose score is significant on its own, and
    keeps the set whose model, fitted on each half the same way, has the lowest loss
    on the other half, provided that loss is below the additive model's and
    significantly so on the bulk of the rows (one-sided paired tests over the rows,
    trimmed by :data:`_TRIMMED_FRACTION` at each end, 5 % over the sets): a pair term has more
    freedom than a step function on a few bins, and on small or noisy data it can
    cost more than it gains.
    """
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    seed = rng.randint(2**31 - 1)
    rows = np.arange(X.shape[0])
    if X.shape[0] > 2 * _RANKING_ROWS:
        rows = np.sort(rng.choice(X.shape[0], 2 * _RANKING_ROWS, replace=False))
    stratify = config.targets.stratify(encoded[rows])
    splitter = (KFold if stratify is None else StratifiedKFold)(2, shuffle=True, random_state=seed)
    halves = [(rows[fitted], rows[held_out], held_out) for fitted, held_out in splitter.split(rows, stratify)]

    main_config = replace(config, hidden_sizes=(), layer_masks=())
    residual = np.zeros((len(rows), config.targets.n_outputs))
    main_losses = np.zeros(len(rows))
    spread = np.zeros(X.shape[1])
    for fit_rows, loss_rows, positions in halves:
        module, x, losses, gradient = _fit_and_score(X, encoded, main_config, seed, sample_weight, fit_rows, loss_rows)
        residual[positions], main_losses[positions] = -gradient, losses
        with torch.no_grad():
            spread += module.layers[0].edge_spread(x).numpy().max(0)  # how much each main effect varies
    # Bins are quantiles, so raw columns bin as the scaled ones do.
    values = np.asarray(X[rows], dtype=np.float64)
    candidates = distinct_inputs(values, np.argsort(-spread, kind="stable"), _MAX_RANKED_INPUTS)
    ranking = rank_pairs(values, residual, sample_weight[rows], inputs=candidates, random_state=seed, with_errors=True)
    if interactions != "auto":
        return tuple(pair for pair, *_ in ranking)[:interactions]
    # Two nested sets: the pairs significant family-wise, and those significant each on
    # its own. The family-wise test is strict over hundreds of pairs, while together
    # weaker pairs can lower the loss clearly (a churn table: ROC AUC +0.024 with ten
    # pairs, none significant family-wise).
    z_pair = NormalDist().inv_cdf(1 - _FALSE_PAIR_RATE)
    significant = tuple(pair for pair, _, useful, _ in ranking if useful)[:AUTO_MAX_PAIRS]
    promising = tuple(pair for pair, gain, _, error in ranking if gain > z_pair * error)[:AUTO_MAX_PAIRS]
    pair_sets = [pairs for pairs in dict.fromkeys((significant, promising)) if pairs]
    if not pair_sets:
        return ()
    # One-sided paired tests over the rows, Bonferroni over the sets: the pairs must
    # lower the out-of-fold loss. The set with the lowest loss of those that pass wins.
    weight = sample_weight[rows] / sample_weight[rows].mean()
    best, best_loss = (), np.inf
    for pairs in pair_sets:
        width, mask = interaction_structure(X.shape[1], pairs)
        pair_config = replace(config, hidden_sizes=(width,), layer_masks=(mask,))
        pair_losses = np.zeros(len(rows))
        for fit_rows, loss_rows, positions in halves:
            pair_losses[positions] = _fit_and_score(X, encoded, pair_config, seed, sample_weight, fit_rows, loss_rows)[2]
        drop = weight * (main_losses - pair_losses)
        loss = float(np.mean(weight * pair_losses))
        passes = drop.mean() > 0 and significantly_positive(drop, _PAIRS_KEPT_RATE / len(pair_sets), _TRIMMED_FRACTION)
        if passes and loss < best_loss:
            best, best_loss = pairs, loss
    return best


def distinct_inputs(values, order, limit):
    """Up to ``limit`` inputs taken in ``order``, skipping any whose quantile bins
    follow an input already taken (codes correlated at :data:`_SAME_BINS_CORRELATION`
    or more); sorted.

    Tables often carry one quantity twice (a phone plan's minutes and their charge,
    a rate and its rounded copy): ranking would find every interaction of one twice,
    once per copy, and spend the sets' places on pairs that say the same.
    """
    n_bins = _resolutions(len(values))[-1]
    taken, standardised = [], []  # the standardised codes of the taken inputs that vary
    for index in order:
        codes = _bin_codes(values[:, index], n_bins)[0].astype(np.float64)
        if codes.std() > 0:
            codes = (codes - codes.mean()) / codes.std()
            if any(np.mean(codes * other) >= _SAME_BINS_CORRELATION for other in standardised):
                continue
            standardised.append(codes)
        taken.append(int(index))
        if len(taken) == limit:
            break
    return np.sort(np.asarray(taken, dtype=int))


def significantly_positive(differences, rate, trim=0.0):
    """Whether the mean of paired per-row ``differences`` is positive by a one-sided
    test at level ``rate`` (normal approximation over the rows).

    With ``trim`` > 0 the test is Yuen's: the mean of the differences without the
    ``trim`` fraction at each end, against the standard error from the winsorized
    ones, so that a few extreme rows neither pass nor block it alone.
    """
    z = NormalDist().inv_cdf(1 - rate)
    n = len(differences)
    cut = int(trim * n)
    if cut == 0:
        return bool(differences.mean() > z * differences.std() / np.sqrt(n))
    ordered = np.sort(differences)
    winsorized = np.clip(differences, ordered[cut], ordered[n - cut - 1])
    error = winsorized.std(ddof=1) / ((1 - 2 * cut / n) * np.sqrt(n))
    return bool(ordered[cut : n - cut].mean() > z * error)


def _fit_and_score(X, encoded, config, seed, sample_weight, fit_rows, loss_rows):
    """Train on ``fit_rows``; the network, scaled ``loss_rows``, their losses and loss gradients."""
    from ._training import train

    result = train(X[fit_rows], encoded[fit_rows], sample_weight[fit_rows], config, seed, description="pair ranking")
    module = result.module.to(device="cpu", dtype=torch.float64)
    x = torch.as_tensor(result.scaler.transform(X[loss_rows]), dtype=torch.float64)
    target = config.targets.tensor(encoded[loss_rows], torch.device("cpu"), torch.float64)
    with torch.enable_grad():
        output = module(x).detach().requires_grad_(True)
        losses = config.targets.sample_losses(output, target)
        losses.sum().backward()
    return module, x, losses.detach().numpy(), output.grad.numpy()


def _bin_codes(column, n_bins):
    """Quantile-bin codes 0..B-1 of one column (ties share a bin; B <= n_bins)."""
    edges = np.unique(np.quantile(column, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, column, side="right"), len(edges) + 1


def _interaction_table(sums, weights, n_iter=20):
    """Cell means of a two-way table beyond its row and column effects: (A, B, K).

    ``sums`` (A, B, K) are the weighted sums of K residual columns per cell and
    ``weights`` (A, B) the cells' weights. The additive part (row plus column effects,
    weighted least squares, by backfitting) is what steps in each input alone
    explain; empty cells get no interaction.
    """
    filled = weights > 0
    means = np.where(filled[..., None], sums / np.where(filled, weights, 1.0)[..., None], 0.0)
    rows = np.zeros((means.shape[0], means.shape[2]))
    columns = np.zeros((means.shape[1], means.shape[2]))
    row_weight = np.maximum(weights.sum(1), 1e-300)[:, None]
    column_weight = np.maximum(weights.sum(0), 1e-300)[:, None]
    for _ in range(n_iter):
        rows = np.einsum("ab,abk->ak", weights, means - columns[None]) / row_weight
        columns = np.einsum("ab,abk->bk", weights, means - rows[:, None]) / column_weight
    return np.where(filled[..., None], means - rows[:, None] - columns[None], 0.0)


def rank_pairs(x, residual, sample_weight, inputs=None, n_bins=None, random_state=0, with_errors=False):
    """Pairs of inputs ranked by how much of ``residual`` they explain together (FAST).

    For every pair, the residuals' cell means on a grid of quantile bins of the two
    inputs, less their row and column effects, are the pair's interaction. It is
    measured on one half of the rows and scored on the other (both ways round): the
    score is the drop in the weighted squared residual on the held-out half, per row.
    Cross-fitting keeps noise from looking like an interaction however flexible the
    main-effects model was: a pair of unrelated inputs scores about
    ``-cells * variance / rows``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features)
    residual : ndarray of shape (n_samples, n_outputs)
        Negative loss gradients of a main-effects model.
    sample_weight : ndarray of shape (n_samples,)
    inputs : array-like of int, default=None
        Inputs whose pairs are ranked (all by default).
    n_bins : int or sequence of int, default=None
        Quantile bins per input. By default two resolutions: about
        ``sqrt(n_samples / 40)`` bins, from 3 to 12, so that a cell of either half
        holds about 20 rows, and half as many (at least 3). A pair is scored at each
        and keeps its better score: fine cells follow a smooth surface, coarse ones
        find a threshold in noisy data (a binary target) that fine cells pay more
        variance for than they explain.
    random_state : int, default=0
        Seed of the split into halves.
    with_errors : bool, default=False
        Also give each score's standard error.

    Returns
    -------
    list of ((int, int), float, bool) or ((int, int), float, bool, float)
        Every pair, its held-out score, and whether the score is significantly
        positive (one-sided, at a family-wise 5 % over all the pairs ranked at every
        resolution, from the rows' spread of squared-residual drops), and its
        standard error with ``with_errors``; the best first.
    """
    n_samples = x.shape[0]
    residual = np.asarray(residual, dtype=np.float64).reshape(n_samples, -1)
    weight = np.asarray(sample_weight, dtype=np.float64)
    weight = weight * (n_samples / weight.sum())
    inputs = np.arange(x.shape[1]) if inputs is None else np.asarray(inputs, dtype=int)
    resolutions = _resolutions(n_samples) if n_bins is None else np.atleast_1d(n_bins).astype(int).tolist()
    half = np.random.default_rng(random_state).permutation(n_samples) % 2
    codes = {(int(i), bins): _bin_codes(x[:, i], bins) for i in inputs for bins in resolutions}
    weighted = weight[:, None] * residual
    entries = []
    for position, a in enumerate(inputs):
        for b in inputs[position + 1 :]:
            pair = (int(min(a, b)), int(max(a, b)))
            scores = [
                _held_out_gain(codes[int(a), bins], codes[int(b), bins], half, weight, weighted, residual)
                for bins in resolutions
            ]
            entries.append((pair, *max(scores, key=lambda score: score[0])))
    # One-sided test of a positive gain, Bonferroni-corrected over the pairs and resolutions.
    z = NormalDist().inv_cdf(1 - _FALSE_PAIR_RATE / max(len(entries) * len(resolutions), 1))
    ranking = [(pair, gain, bool(gain > z * error), *((error,) if with_errors else ())) for pair, gain, error in entries]
    ranking.sort(key=lambda entry: -entry[1])
    return ranking


def _resolutions(n_samples):
    """Bins per input of :func:`rank_pairs`' two resolutions (one where both agree)."""
    fine = int(np.clip(round(np.sqrt(n_samples / 40)), 3, 12))
    return sorted({max(3, fine // 2), fine})


def _held_out_gain(code_a, code_b, half, weight, weighted, residual):
    """A pair's cross-fitted drop in squared residual per row on its bins, and its standard error.

    ``code_a`` and ``code_b`` are :func:`_bin_codes` of the two inputs.
    """
    (code_a, bins_a), (code_b, bins_b) = code_a, code_b
    if bins_a < 2 or bins_b < 2:
        return 0.0, np.inf
    n_samples = len(half)
    size = bins_a * bins_b
    cell = code_a * bins_b + code_b
    # Tables of each half: cells of half h are numbered h * size + cell.
    split = cell + half * size
    weights = np.bincount(split, weights=weight, minlength=2 * size).reshape(2, bins_a, bins_b)
    sums = np.stack(
        [np.bincount(split, weights=weighted[:, k], minlength=2 * size) for k in range(residual.shape[1])], -1
    ).reshape(2, bins_a, bins_b, -1)
    # Every row is held out once: its drop in squared residual, by the other half's table.
    drop = np.zeros(n_samples)
    for fitted in (0, 1):
        delta = _interaction_table(sums[fitted], weights[fitted]).reshape(size, -1)[cell]  # (n, K)
        held_out = half != fitted
        drop[held_out] = weight[held_out] * ((2 * residual[held_out] - delta[held_out]) * delta[held_out]).sum(1)
    return float(drop.mean()), float(drop.std() / np.sqrt(n_samples))


# ---------------------------------------------------------------------- terms
@dataclass(frozen=True)
class Terms:
    """The terms of an additive network: which inputs each sees and which nodes carry it.

    Attributes
    ----------
    inputs : list of tuple of int
        Input indices of every term (one or two), main effects first.
    nodes : list of tuple of int
        For a network without a hidden layer, the term's input (its edges to the
        outputs); for a two-layer network, the hidden nodes whose curves make it up.
    constant_nodes : tuple of int
        Hidden nodes that see no input (their curves add a constant).
    """

    inputs: list
    nodes: list
    constant_nodes: tuple = ()


def terms_of(module):
    """The terms of ``module`` if it is additive (terms of at most two inputs), else None."""
    layers = module.layers
    if len(layers) == 1:
        active = (layers[0].mask > 0).any(0).cpu().numpy()
        indices = [i for i in range(layers[0].in_features) if active[i]]
        return Terms(inputs=[(i,) for i in indices], nodes=[(i,) for i in indices])
    if len(layers) != 2:
        return None
    sees = (layers[0].mask > 0).cpu().numpy()
    used = (layers[1].mask > 0).any(0).cpu().numpy()
    groups, constant = {}, []
    for node in range(layers[0].out_features):
        if not used[node]:
            continue
        inputs = tuple(int(i) for i in np.flatnonzero(sees[node]))
        if not inputs:
            constant.append(node)
        elif len(inputs) > 2:
            return None
        else:
            groups.setdefault(inputs, []).append(node)
    order = sorted(groups, key=lambda inputs: (len(inputs), inputs))
    return Terms(inputs=order, nodes=[tuple(groups[inputs]) for inputs in order], constant_nodes=tuple(constant))


@torch.no_grad()
def term_contributions(module, terms, x):
    """Every term's contribution to every output, and the constant.

    Parameters
    ----------
    module : skkan.nn.KAN
    terms : Terms
    x : torch.Tensor of shape (n_samples, n_features)
        Network inputs (scaled).

    Returns
    -------
    contributions : ndarray of shape (n_samples, n_terms, n_outputs)
    intercept : ndarray of shape (n_outputs,)
        With the contributions summed over terms, the network output.
    """
    last = module.layers[-1]
    inputs = x if len(module.layers) == 1 else module.layers[0](x)
    activations = last.edge_activations(inputs)  # (n, out, in)
    n_outputs = last.out_features
    contributions = np.zeros((x.shape[0], len(terms.inputs), n_outputs))
    for index, nodes in enumerate(terms.nodes):
        contributions[:, index, :] = activations[:, :, list(nodes)].sum(-1).cpu().numpy()
    intercept = np.zeros(n_outputs) if last.bias is None else last.bias.detach().cpu().double().numpy().copy()
    if terms.constant_nodes and x.shape[0]:
        intercept += activations[0, :, list(terms.constant_nodes)].sum(-1).cpu().double().numpy()
    return contributions, intercept


# Points of the grids on which a pair's marginal effects are tabulated, and reference
# values (quantiles of the data) over which the other input is averaged.
_MARGINAL_GRID = 65
_MARGINAL_REFERENCES = 33


@torch.no_grad()
def pair_marginals(module, terms, rows, low, high):
    """The marginal effects of every pair term whose two inputs have main-effect terms.

    For a pair term ``f(a, b)`` these are ``m_a(a) = E_b f(a, b)`` and ``m_b(b) = E_a
    f(a, b)``, the expectations over the data's distribution of the other input (its
    quantiles on ``rows``), tabulated on a grid of each input's range.

    Parameters
    ----------
    module : skkan.nn.KAN
    terms : Terms
    rows : ndarray of shape (n_samples, n_features)
        Network inputs (scaled) of training rows.
    low, high : ndarray of shape (n_features,)
        Range of the scaled inputs.

    Returns
    -------
    dict
        ``term index -> ((input, grid, values (grid, outputs)), (input, grid, values))``.
    """
    main = {inputs[0]: index for index, inputs in enumerate(terms.inputs) if len(inputs) == 1}
    levels = (np.arange(_MARGINAL_REFERENCES) + 0.5) / _MARGINAL_REFERENCES
    marginals = {}
    for index, inputs in enumerate(terms.inputs):
        if len(inputs) != 2 or not all(i in main for i in inputs):
            continue
        single = Terms(inputs=[inputs], nodes=[terms.nodes[index]])
        sides = []
        for varied, averaged in (inputs, inputs[::-1]):
            grid = np.linspace(low[varied], high[varied], _MARGINAL_GRID)
            references = np.quantile(rows[:, averaged], levels)
            x = np.zeros((grid.size * references.size, rows.shape[1]))
            x[:, varied] = np.repeat(grid, references.size)
            x[:, averaged] = np.tile(references, grid.size)
            values, _ = term_contributions(module, single, torch.as_tensor(x, dtype=torch.float64))
            sides.append((varied, grid, values[:, 0, :].reshape(grid.size, references.size, -1).mean(1)))
        marginals[index] = tuple(sides)
    return marginals


def purify(contributions, x, terms, marginals):
    """Move every pair's marginal effects into its inputs' main effects (sums unchanged).

    A pair term can carry part of the main effects of its inputs (a network trains the
    terms jointly, and only their sum is determined by the data). As Explainable
    Boosting Machines purify theirs, the pair keeps ``f - m_a - m_b`` and the main
    effects gain ``m_a`` and ``m_b`` (:func:`pair_marginals`); every row's sum over
    terms stays the same.

    Parameters
    ----------
    contributions : ndarray of shape (n_samples, n_terms, n_outputs)
        As :func:`term_contributions` gives them; changed in place and returned.
    x : ndarray of shape (n_samples, n_features)
        The rows' network inputs.
    """
    main = {inputs[0]: index for index, inputs in enumerate(terms.inputs) if len(inputs) == 1}
    for index, sides in marginals.items():
        for varied, grid, values in sides:
            moved = np.stack([np.interp(x[:, varied], grid, values[:, k]) for k in range(values.shape[1])], -1)
            contributions[:, index, :] -= moved
            contributions[:, main[varied], :] += moved
    return contributions


# A main effect is folded into one edge only if the network's outputs move by at most
# this share of their spread on the data (root mean square over the rows): a
# composition of two cubic splines is not a cubic spline on the first edge's grid, so
# the first layer's grid is first refined (exactly) to COLLAPSE_GRID intervals.
# Measured on California Housing (8 main effects): the folded curves' largest error is
# 0.05-1.2 of the outputs' spread on the 10-interval grid, at most 0.01 on 100; the
# retraining after snapping absorbs such small changes.
COLLAPSE_TOLERANCE = 1e-2
COLLAPSE_GRID = 100
# Points per grid interval at which the composed curve is fitted.
COLLAPSE_POINTS_PER_INTERVAL = 8


@torch.no_grad()
def collapse_main_effects(module, x):
    """Fold each main effect of a single-output additive network into its first edge.

    A main effect of an additive network with a hidden layer (the masked network of
    ``interactions``, or a pruned one whose nodes each see one input) is a composition
    ``phi_out(phi_in(x_i))`` of two edges; snapped edge by edge it prints as a nested
    closed form (``cos(6*cos(...))``). Here the first edge becomes a spline fitted to
    the whole composition (its base weight zero) and the second the identity ``x``,
    so snapping fits one closed form to the main effect itself. Main effects whose
    edges are already symbolic, or whose folding would move the outputs by more than
    :data:`COLLAPSE_TOLERANCE` of their spread on ``x``, are left as they are.

    Parameters
    ----------
    module : skkan.nn.KAN
        Float64, changed in place.
    x : torch.Tensor of shape (n_samples, n_features)
        Network inputs (scaled rows) on which the outputs must not move.

    Returns
    -------
    int
        Main effects folded.
    """
    from .symbolic import make_library

    terms = terms_of(module)
    if terms is None or len(module.layers) != 2 or module.layers[1].out_features != 1:
        return 0
    first, second = module.layers
    candidates = [
        (inputs[0], nodes[0])
        for inputs, nodes in zip(terms.inputs, terms.nodes)
        if len(inputs) == 1 and len(nodes) == 1
        and (nodes[0], inputs[0]) not in first.symbolic_functions and (0, nodes[0]) not in second.symbolic_functions
    ]
    if not candidates:
        return 0
    identity = make_library(["x"])[0]
    reference = module(x)
    spread = float(reference.std()) or 1.0
    if first.grid_size < COLLAPSE_GRID:
        first.refine(COLLAPSE_GRID)  # keeps every curve (a least-squares refit on a finer grid)
    folded = 0
    for i, h in candidates:
        grid = first.grid[i]
        k = first.spline_order
        knots = grid[k : grid.shape[0] - k]
        fractions = torch.linspace(0, 1, COLLAPSE_POINTS_PER_INTERVAL + 1, dtype=grid.dtype)[:-1]
        dense = (knots[:-1, None] + (knots[1:] - knots[:-1])[:, None] * fractions).reshape(-1)
        points = torch.cat([dense, knots[-1:], x[:, i]])
        rows = torch.zeros(len(points), first.in_features, dtype=x.dtype)
        rows[:, i] = points
        node = first.edge_activations(rows)[:, h, i] + (first.bias[h] if first.bias is not None else 0.0)
        hidden = torch.zeros(len(points), second.in_features, dtype=x.dtype)
        hidden[:, h] = node
        effect = second.edge_activations(hidden)[:, 0, h]
        saved = [tensor.clone() for tensor in (first.coef, first.scale_base, first.scale_spline)]
        saved_bias = first.bias.clone() if first.bias is not None else None
        basis = first.basis(rows)[:, i, :]
        coefficients = torch.linalg.lstsq(basis, effect[:, None], driver="gelsd").solution[:, 0]
        first.coef[h, i] = coefficients
        first.scale_base[h, i] = 0.0
        first.scale_spline[h, i] = 1.0
        if first.bias is not None:
            first.bias[h] = 0.0
        second.set_symbolic(0, h, identity, [1.0, 0.0, 1.0, 0.0])
        if float(torch.sqrt(torch.mean((module(x) - reference) ** 2))) <= COLLAPSE_TOLERANCE * spread:
            folded += 1
            continue
        first.coef.copy_(saved[0])
        first.scale_base.copy_(saved[1])
        first.scale_spline.copy_(saved[2])
        if saved_bias is not None:
            first.bias.copy_(saved_bias)
        second.clear_symbolic(0, h)
    return folded


# ---------------------------------------------------------------------- averaging
@torch.no_grad()
def average_with_additive(network, additive, x):
    """One network whose output is the mean of ``network``'s and ``additive``'s.

    ``network`` has one hidden layer and ``additive`` none; both have one output and
    the same first-layer grid. The averaged network keeps ``network``'s hidden nodes
    and adds one node per input carrying ``additive``'s curve of it (as the main
    effects of :func:`interaction_structure`), whose output edge is the identity on a
    grid over that curve's values on ``x`` (scaled rows; the identity holds beyond
    them too); every output edge and the bias are halved. For a classifier of two
    classes this averages the logits.

    Parameters
    ----------
    network : skkan.nn.KAN
        Widths ``[n, H, 1]``.
    additive : skkan.nn.KAN
        Widths ``[n, 1]``, on ``network``'s first-layer grid.
    x : torch.Tensor of shape (n_samples, n)

    Returns
    -------
    skkan.nn.KAN
        Widths ``[n, H + n, 1]``.
    """
    (hidden, output), main = network.layers, additive.layers[0]
    n_features, width = hidden.in_features, hidden.out_features
    if not torch.equal(main.grid, hidden.grid):
        raise ValueError("The additive network must be on the network's first-layer grid.")
    averaged = KAN(
        [n_features, width + n_features, 1], grid_size=hidden.grid_size, spline_order=hidden.spline_order,
        dtype=hidden.coef.dtype,
    ).to(hidden.coef.device)
    first, second = averaged.layers
    mains = torch.arange(n_features, device=hidden.grid.device) + width
    inputs = mains - width
    first.grid.copy_(hidden.grid)
    for name in ("coef", "scale_spline", "scale_base", "mask"):
        getattr(first, name).zero_()
        getattr(first, name)[:width] = getattr(hidden, name)
    first.bias.zero_()
    first.bias[:width] = hidden.bias
    first.mask[mains, inputs] = 1.0
    first.coef[mains, inputs] = main.coef[0] * main.scale_spline[0][:, None]
    first.scale_spline[mains, inputs] = 1.0
    first.scale_base[mains, inputs] = main.scale_base[0]
    effects = main.edge_activations(x)[:, 0, :]
    second.set_identity(range(width, width + n_features), effects.min(0).values, effects.max(0).values)
    second.grid[:width] = output.grid
    second.coef[:, :width] = output.coef
    second.scale_spline[:, :width] = output.scale_spline
    second.scale_base[:, :width] = output.scale_base
    second.mask[:, :width] = output.mask
    second.bias.copy_(output.bias + main.bias)
    second.scale_outputs(0.5)
    return averaged
