"""Sums and products of sub-problems, found on a surrogate network (private; used by
discovery).

A law such as ``r*F*sin(theta)`` with signed ``r`` and ``F`` is a product, but its
target changes sign, so the ``log|y|`` trial does not apply, and no input is positive,
so no monomial can be divided out; ``q*(Ef + B*v*sin(theta))`` is a product of a sum
of a product. AI Feynman's way: fit a smooth network to the data, read additive and
multiplicative separability off tables of its values, recursively
(:func:`skkan.discovery._structure.cross_tree`: a table of ``f`` at one input from
one row and the others from another row is a sum or of rank one, no logarithm), and
solve every leaf of that tree as a sub-problem with fewer inputs on data the network
generates, the other inputs held at a reference row:

    f(x) = prod_i f(x_Gi, ref) / f(ref)**(k - 1)      for k factors G_i,
    f(x) = sum_i f(x_Gi, ref) - (k - 1) * f(ref)       for k terms G_i.

Each leaf's formula comes from a discovery on its own inputs (where the product
screen still applies: a term ``B*v*sin(theta)`` of a sum is a product plus a
constant); the formulas combine up the tree, and the law's candidates are simplified
against the real data (every constant refitted), so the network's approximation
error does not reach the printed law.
"""

import numpy as np
import torch

from ._cache import ArrayCache, array_digest
from ._noise import finite_level
from ._structure import cross_tree, network_function
from ._trials import _NETWORK_PARAMS

__all__ = ["SURROGATE_PARAMS", "factor_trial", "product_trial"]

# The surrogate: one hidden layer of 20, a grid of 5, no sparsity penalty, full-batch
# L-BFGS in float64 until max_iter. Its error sets the tolerance of the cross tables
# (skkan.discovery._structure.cross_tree), so it must be small: relative RMS error on
# 1,000 rows, 10 hidden nodes and 500 iterations against this, r*F*sin(theta) 1.7 %
# and 0.5 %, m*r*v*sin(theta) 5 % and 2 %, q*(Ef + B*v*sin(theta)) 10 % (a wrong tree)
# and 1 % (the right one), for about 5 s instead of 1.5 s.
SURROGATE_PARAMS = {
    **_NETWORK_PARAMS,
    "hidden_layer_sizes": (20,),
    "grid_size": 5,
    "grid_eps": 0.02,
    "lamb": 0.0,
    "max_iter": 1500,
    "tol": 0.0,
    "dtype": "float64",
}
# Rows the surrogate trains on and is differentiated at (evenly spread over the
# training rows): the structure needs no more, and training cost grows with rows.
# On noisy data the surrogate stops where its error on the training rows it does not
# train on stops falling: trained for the full max_iter it follows the noise (at 10 %
# noise its error against the law was 3 times that of the stopped network on I.16.6
# and 4 times on I.48.2, development laws), and it took 15 times as long. It still
# trains on the same rows: a fifth of them held out cost exact data whose noise the
# estimate puts too high half of the surrogate's precision (test_16's linear term
# was lost).
SURROGATE_NOISY_PARAMS = {"early_stopping": True, "n_iter_no_change": 50}
SURROGATE_ROWS = 1000
# Fewest rows outside the surrogate's own that may decide when it stops.
_MIN_STOPPING_ROWS = 50
# Surrogates kept per process, keyed by their data and seed: the tree of sums and
# products and the linear term train the same network on the same rows, a few seconds
# to a quarter of a minute each, one stage after the other; a few entries outlive the
# sub-discoveries between them.
SURROGATE_CACHE_SIZE = 4
_surrogate_cache = ArrayCache(SURROGATE_CACHE_SIZE)
# Products of the factors' formulas simplified against the real data, simplest first
# (each factor offers up to SIMPLEST_FACTORS + 2 formulas, see _factor_formulas): the
# simplest ones whose relative squared error on the network's data is at most
# FACTOR_LOSS (10 % RMS: the network itself may be off by a few per cent), the chosen
# one and the most accurate one.
MAX_PRODUCTS = 12
# The noise floor of a leaf of the surrogate's tree, in units of the surrogate's
# held-out RMS error (see factor_trial).
LEAF_ERROR_FACTOR = 2.0
# Noise levels up to this share of y's standard deviation count as exact data for the
# leaves' noise floor (see leaf_error_factor).
NOISY_LEVEL = 1e-3
SIMPLEST_FACTORS = 3
FACTOR_LOSS = 1e-2


def leaf_error_factor(settings, scale):
    """By how much a sub-problem's noise floor exceeds the error estimated for its
    values: :data:`LEAF_ERROR_FACTOR` on exact data, where that error is the
    approximation's alone and the estimate is rough (``exp(x1)``, a factor of ``2 -
    x0*x2*exp(x1)``, came out at 1.1 times it, so every later stage of its
    sub-discovery ran: 22 s, not 2 s); 1 on noisy data, where the noise dominates
    and is estimated well, and a higher floor lets a line pass for ``1/p`` at 10 %
    noise (noisy data: :func:`is_noisy` of the level and ``scale``, the standard
    deviation of ``y``)."""
    return 1.0 if is_noisy(settings.get("noise_level"), scale) else LEAF_ERROR_FACTOR


def is_noisy(noise_level, scale):
    """Whether an estimated noise level means noisy data: above ``1e-3`` times
    ``scale``, the standard deviation of ``y`` (the estimator's selection draws the
    same line); an estimate on exact data is not exactly 0."""
    return finite_level(noise_level) > NOISY_LEVEL * scale


def fit_surrogate(X, y, seed, validation=None):
    """A smooth network fitted to ``(X, y)``, as a function of raw rows; its RMS error
    on those rows and its training iterations. ``validation``: rows ``(X_v, y_v)``
    where the training stops once its error there stops falling
    (:data:`SURROGATE_NOISY_PARAMS`; for noisy data)."""
    from .._operations import FittedNetwork
    from .._targets import RegressionTargets
    from .._training import TrainingConfig, train

    n_rows = len(y)
    validation_rows = None
    if validation is not None:
        X, y = np.vstack([X, validation[0]]), np.concatenate([y, validation[1]])
        validation_rows = np.arange(n_rows, len(y))
    weight = np.ones(len(y))
    targets = RegressionTargets.fit(y, weight)
    params = {**SURROGATE_PARAMS, **SURROGATE_NOISY_PARAMS} if validation is not None else SURROGATE_PARAMS
    config = TrainingConfig.from_params(params, targets, X.shape[0], X.shape[1])
    result = train(X, targets.encode(y), weight, config, seed, description="surrogate", validation_rows=validation_rows)
    X, y = X[:n_rows], y[:n_rows]
    function = network_function(FittedNetwork(result.module, result.scaler, targets, *result.attribution))
    with torch.no_grad():
        predicted = function(torch.as_tensor(X, dtype=torch.float64)).numpy()
    return function, float(np.sqrt(np.mean((predicted - y) ** 2))), int(result.n_iter)


def held_out_surrogate(X_fit, y_fit, X_val, y_val, seed, noisy=False):
    """:func:`fit_surrogate` on at most :data:`SURROGATE_ROWS` of the training rows
    (evenly spread), with its error taken as the larger of its training and held-out
    RMS errors; also returns its training iterations and the rows it trained on.
    On ``noisy`` data the training stops early, judged on the other training rows
    (see :func:`fit_surrogate`; with too few of them it trains to the end).

    Tables and sub-problems read the surrogate at rows that pair one row's inputs with
    another's, where it is about as far off as on rows it never saw
    (q*(Ef + B*v*sin(theta)): 0.010 held out, 0.017 on its term B*v*sin(theta),
    0.0026 on its training rows).
    """
    settings = (sorted(SURROGATE_PARAMS.items(), key=str), SURROGATE_NOISY_PARAMS if noisy else None, SURROGATE_ROWS)
    key = array_digest((X_fit, y_fit, X_val, y_val), (settings, int(seed)))
    cached = _surrogate_cache.get(key)
    if cached is not None:
        # Trained once: no training iterations are spent on it again.
        function, error, _, rows = cached
        return function, error, 0, rows.copy()
    rows = np.arange(len(y_fit))
    if len(rows) > SURROGATE_ROWS:
        rows = np.linspace(0, len(y_fit) - 1, SURROGATE_ROWS).round().astype(int)
    # Noisy data: the training rows the surrogate does not train on tell when to stop
    # (the held-out rows stay for its error).
    others = np.setdiff1d(np.arange(len(y_fit)), rows) if noisy else np.array([], dtype=int)
    validation = (X_fit[others], y_fit[others]) if len(others) >= _MIN_STOPPING_ROWS else None
    function, error, n_iter = fit_surrogate(X_fit[rows], y_fit[rows], seed, validation)
    error = max(error, float(np.sqrt(np.mean((_evaluate(function, X_val) - y_val) ** 2))))
    _surrogate_cache.put(key, (function, error, n_iter, rows.copy()))
    return function, error, n_iter, rows


def _evaluate(function, X):
    with torch.no_grad():
        return function(torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float64)).numpy()


def _factor_formulas(group, values, X_fit, X_val, symbols, settings, error, seed):
    """Formulas of one factor: discovery on its values ``(v_fit, v_val)`` over the rows' ``x_G``."""
    from ._trials import discover, noise_columns, pareto_table, select_best

    v_fit, v_val = values
    sub_symbols = [symbols[i] for i in group]
    # The sub-problems train no surrogate of their own (its approximation would
    # compound), though the product screen still splits them; and the factor's own
    # error is the noise floor of its data: a formula that reaches it ends the
    # sub-discovery. Nor do their additive trials rediscover misfit terms: an
    # approximation of such a term falls within that floor and ends the
    # sub-discovery before the trial that finds it exactly (I.15.3t's coefficient
    # of x, a function of c/u).
    sub_settings = {**settings, "factors": False, "additive_terms": False}
    pool, log = discover(
        X_fit[:, group], v_fit, X_val[:, group], v_val, sub_symbols, sub_settings,
        n_restarts=1, hidden_width="auto", transforms="auto", random_state=seed, noise_level=error,
    )
    rows = pareto_table(pool)
    if not rows:
        return [], log
    errors, flags, _ = noise_columns(rows, X_val[:, group], v_val, sub_symbols, error)
    # The factor's data are smooth, so they cannot tell a*x from sin(a*x) with a small
    # a: the simplest formulas that fit them closely go to the products too, besides
    # the chosen and the most accurate one; the real rows decide.
    chosen = {select_best(rows, "best", errors=errors), int(np.argmin([row["loss"] for row in rows]))}
    chosen |= set([k for k, row in enumerate(rows) if row["loss"] <= FACTOR_LOSS][:SIMPLEST_FACTORS])
    return [rows[k]["equation"] for k in sorted(chosen)], log


def _simplest_combinations(choices):
    """The :data:`MAX_PRODUCTS` simplest picks of one formula from each list of ``choices``.

    Best-first over the picks (a heap of index tuples), so the cost stays bounded where
    the full product of the lists would not: seven factors of five formulas each make
    78,125 combinations.
    """
    import heapq

    from ..symbolic._simplify import complexity

    costs = [[complexity(formula) for formula in formulas] for formulas in choices]
    orders = [sorted(range(len(cost)), key=cost.__getitem__) for cost in costs]

    def total(picks):
        return sum(costs[g][orders[g][i]] for g, i in enumerate(picks))

    start = (0,) * len(choices)
    heap, seen, combinations = [(total(start), start)], {start}, []
    while heap and len(combinations) < MAX_PRODUCTS:
        _, picks = heapq.heappop(heap)
        combinations.append(tuple(choices[g][orders[g][i]] for g, i in enumerate(picks)))
        for g in range(len(picks)):
            following = picks[:g] + (picks[g] + 1,) + picks[g + 1 :]
            if picks[g] + 1 < len(orders[g]) and following not in seen:
                seen.add(following)
                heapq.heappush(heap, (total(following), following))
    return combinations


def _product_candidates(spec, choices, scale, X_fit, y_fit, X_val, y_val, symbols, settings, offset=0.0,
                        prefactor=1):
    """``prefactor * (offset + scale * prod_i g_i)`` for the simplest combinations of the
    factors' formulas ``choices`` (one list per factor), each simplified against the
    real rows."""
    import sympy

    formulas = []
    for factors in _simplest_combinations(choices):
        formula = sympy.Mul(*factors) * sympy.Float(scale)
        if offset:
            formula = formula + sympy.Float(offset)
        formulas.append(prefactor * formula)
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings)


def _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Every formula simplified against the real rows, as candidates found by ``spec``."""
    import sympy

    from ..symbolic._simplify import drop_positive_abs, simplify_formula
    from ._trials import EXACT_LOSS, _candidates

    candidates = []
    for formula in formulas:
        # Constants a factor's discovery snapped on its smooth data (0.987 as
        # 7/(4*sqrt(pi))) become floats again, refitted on the real rows; exponents stay.
        formula = sympy.nfloat(formula, exponent=False)
        formula = drop_positive_abs(formula, symbols, X_fit)
        try:
            path = simplify_formula(
                formula, symbols, X_fit, y_fit, X_val, y_val, tolerance=settings["tolerance"], random_state=spec.seed
            )
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError):
            continue
        candidates.extend(_candidates(path, spec))
        if any(step.validation_loss <= EXACT_LOSS for step in path):
            # The formulas come simplest first: a more complex one cannot beat an
            # exact one, and each simplification costs up to a second or two.
            break
    return candidates


def factor_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates built up the tree of sums and products a surrogate shows ``y`` is.

    Returns the candidates (simplified against the real data, as ``Candidate`` of
    :mod:`skkan.discovery._trials`) and the surrogate's training iterations; none when
    the surrogate shows no sum or product at the top.
    """
    function, error, n_iter, rows = held_out_surrogate(
        X_fit, y_fit, X_val, y_val, spec.seed, settings.get("noisy_data", False)
    )
    values = _evaluate(function, X_fit[rows])
    # The reference row: where |f| is largest, every factor is far from its zeros.
    reference = np.array(X_fit[rows][int(np.argmax(np.abs(values)))], dtype=np.float64)
    tree = cross_tree(function, X_fit[rows], reference, error, random_state=spec.seed)
    if tree.kind == "leaf":
        return [], n_iter
    # Twice that error is the leaves' noise floor: too high a floor costs at most a
    # wrong leaf formula, which the real rows reject; too low a one rejects the
    # leaf's structure.
    leaf_error = LEAF_ERROR_FACTOR * error
    tree_search = _TreeSearch(function, reference, X_fit, X_val, symbols, settings, leaf_error)
    formulas = tree_search.formulas(tree, spec.seed)
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings), n_iter


class _TreeSearch:
    """Formulas of the nodes of a surrogate's tree (see :func:`factor_trial`)."""

    def __init__(self, function, reference, X_fit, X_val, symbols, settings, error):
        self.function, self.reference = function, reference
        self.X_fit, self.X_val, self.symbols, self.settings, self.error = X_fit, X_val, symbols, settings, error
        # Every node holds the inputs outside it at the reference row, so f there is
        # every node's value at the reference.
        self.at_reference = float(_evaluate(function, reference[None, :])[0])

    def restricted(self, X, inputs):
        """The surrogate at rows ``X`` with every input but ``inputs`` at the reference row."""
        rows = np.repeat(self.reference[None, :], len(X), axis=0)
        rows[:, inputs] = X[:, inputs]
        return _evaluate(self.function, rows)

    def formulas(self, node, seed):
        """Formulas of ``f`` restricted to ``node.inputs``, simplest first; [] if a leaf
        has none."""
        import sympy

        inputs = list(node.inputs)
        if node.kind == "leaf":
            values = (self.restricted(self.X_fit, inputs), self.restricted(self.X_val, inputs))
            formulas, _ = _factor_formulas(
                inputs, values, self.X_fit, self.X_val, self.symbols, self.settings, self.error, seed
            )
            return formulas
        choices = []
        for k, child in enumerate(node.children):
            formulas = self.formulas(child, seed + 7 * k + 1)
            if not formulas:
                return []
            choices.append(formulas)
        at_reference = sympy.Float(self.at_reference)
        extra = len(choices) - 1
        if node.kind == "product":
            return [sympy.Mul(*picks) / at_reference**extra for picks in _simplest_combinations(choices)]
        return [sympy.Add(*picks) - extra * at_reference for picks in _simplest_combinations(choices)]


def product_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``m * (a + C * prod_g g(x_G))`` for the groups ``spec.groups`` of a
    product of splines (``a`` is 0 unless the product needed a constant, ``m`` 1 unless
    ``spec.monomial`` divides ``y``).

    The factors are fitted on all training rows (:func:`skkan.discovery._products.fit_product`),
    each factor's formula is discovered on the factor's values, and the products of
    the formulas are simplified against the real rows. Returns the candidates and 0
    training iterations (no network is trained here).
    """
    import sympy

    from ._products import CONSTANT_FACTOR, fit_product
    from ._trials import _monomial_expression, _monomial_values

    X = np.vstack([X_fit, X_val])
    y = np.concatenate([y_fit, y_val])
    scale = float(np.std(y))
    prefactor = 1
    if spec.monomial:
        y = y / _monomial_values(X, spec.monomial)
        prefactor = _monomial_expression(symbols, spec.monomial)
    fit = fit_product(X, y, spec.groups, len(y_fit), seed=spec.seed, offset=spec.offset)
    # Each factor's relative error is about the product's (the factors have unit
    # root mean square): the noise floor of its sub-discovery.
    error = float(np.sqrt(max(fit.residual, 0.0)) * np.std(y) / max(abs(fit.scale), 1e-300))
    error *= leaf_error_factor(settings, scale)
    choices = []
    for k, (group, factor) in enumerate(zip(spec.groups, fit.factors)):
        group = list(group)
        values = (factor[: len(y_fit)], factor[len(y_fit) :])
        if float(np.std(factor)) <= CONSTANT_FACTOR:
            # An input y ignores: its factor (of root mean square one) is +1 or -1.
            choices.append([sympy.Integer(1 if np.mean(factor) >= 0 else -1)])
            continue
        formulas, _ = _factor_formulas(group, values, X_fit, X_val, symbols, settings, error, spec.seed + k + 1)
        if not formulas:
            return [], 0
        choices.append(formulas)
    candidates = _product_candidates(
        spec, choices, fit.scale, X_fit, y_fit, X_val, y_val, symbols, settings, offset=fit.offset, prefactor=prefactor
    )
    return candidates, 0
