"""Products of signed factors, found on a surrogate network (private; used by discovery).

A law such as ``r*F*sin(theta)`` with signed ``r`` and ``F`` is a product, but its
target changes sign, so the ``log|y|`` trial does not apply, and no input is positive,
so no monomial can be divided out. AI Feynman's way: fit a smooth network to the
data, read multiplicative separability off its exact derivatives
(:func:`skkan.discovery._structure.multiplicative_groups`: ``f * f_ab == f_a * f_b``,
no logarithm), and solve every factor as a sub-problem with fewer inputs on data the
network generates, the other inputs held at a reference row:

    f(x) = prod_i f(x_Gi, ref) / f(ref)**(k - 1)      for k groups G_i.

Each factor's formula comes from a discovery on its own inputs; the product of the
factors' formulas is then simplified against the real data (every constant refitted),
so the network's approximation error does not reach the printed law.
"""

import numpy as np
import torch

from ._structure import input_derivatives, multiplicative_groups, network_function
from ._trials import _NETWORK_PARAMS

__all__ = ["SURROGATE_PARAMS", "factor_trial", "product_trial"]

# The surrogate: one hidden layer of 10, a grid of 5, no sparsity penalty, full-batch
# L-BFGS in float64 until max_iter. Measured on r*F*sin(theta), r and F in [-1, 1],
# theta in [0, 2*pi], 1,000 rows, seeds 0-3: relative RMS error 1.0-1.9 % and
# multiplicative couplings at most 0.14 (5 hidden nodes: 2-5 % and up to 0.24, above
# MULTIPLICATIVE_THRESHOLD). A product of four signed factors (m*r*v*sin(theta))
# still fits to only about 7 %, and its factors are not found.
SURROGATE_PARAMS = {
    **_NETWORK_PARAMS,
    "hidden_layer_sizes": (10,),
    "grid_size": 5,
    "grid_eps": 0.02,
    "lamb": 0.0,
    "max_iter": 500,
    "tol": 0.0,
    "dtype": "float64",
}
# Rows the surrogate trains on and is differentiated at (evenly spread over the
# training rows): the structure needs no more, and training cost grows with rows.
SURROGATE_ROWS = 1000
# Products of the factors' formulas simplified against the real data, simplest first
# (each factor offers up to SIMPLEST_FACTORS + 2 formulas, see _factor_formulas): the
# simplest ones whose relative squared error on the network's data is at most
# FACTOR_LOSS (10 % RMS: the network itself may be off by a few per cent), the chosen
# one and the most accurate one.
MAX_PRODUCTS = 12
SIMPLEST_FACTORS = 3
FACTOR_LOSS = 1e-2


def fit_surrogate(X, y, seed):
    """A smooth network fitted to ``(X, y)``, as a function of raw rows; and its RMS error."""
    from .._operations import FittedNetwork
    from .._targets import RegressionTargets
    from .._training import TrainingConfig, train

    weight = np.ones(len(y))
    targets = RegressionTargets.fit(y, weight)
    config = TrainingConfig.from_params(SURROGATE_PARAMS, targets, X.shape[0], X.shape[1])
    result = train(X, targets.encode(y), weight, config, seed, description="surrogate")
    function = network_function(FittedNetwork(result.module, result.scaler, targets, *result.attribution))
    with torch.no_grad():
        predicted = function(torch.as_tensor(X, dtype=torch.float64)).numpy()
    return function, float(np.sqrt(np.mean((predicted - y) ** 2))), int(result.n_iter)


def _evaluate(function, X):
    with torch.no_grad():
        return function(torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float64)).numpy()


def _factor_formulas(group, values, X_fit, X_val, symbols, settings, error, seed):
    """Formulas of one factor: discovery on its values ``(v_fit, v_val)`` over the rows' ``x_G``."""
    from ._trials import discover, noise_columns, pareto_table, select_best

    v_fit, v_val = values
    sub_symbols = [symbols[i] for i in group]
    # The sub-problems never split again (one level of factors), and the factor's own
    # error is the noise floor of its data: a formula that reaches it ends the
    # sub-discovery.
    sub_settings = {**settings, "factors": False}
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


def _product_candidates(spec, choices, scale, X_fit, y_fit, X_val, y_val, symbols, settings, offset=0.0):
    """``offset + scale * prod_i g_i`` for the simplest combinations of the factors'
    formulas ``choices`` (one list per factor), each simplified against the real rows."""
    import itertools

    import sympy

    from ..symbolic._simplify import complexity, simplify_formula
    from ._trials import _candidates

    candidates = []
    products = sorted(itertools.product(*choices), key=lambda factors: sum(complexity(f) for f in factors))
    for factors in products[:MAX_PRODUCTS]:
        # Constants a factor's discovery snapped on its smooth data (0.987 as
        # 7/(4*sqrt(pi))) become floats again, refitted on the real rows; exponents stay.
        factors = [sympy.nfloat(factor, exponent=False) for factor in factors]
        formula = sympy.Mul(*factors) * sympy.Float(scale)
        if offset:
            formula = formula + sympy.Float(offset)
        try:
            path = simplify_formula(
                formula, symbols, X_fit, y_fit, X_val, y_val, tolerance=settings["tolerance"], random_state=spec.seed
            )
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError):
            continue
        candidates.extend(_candidates(path, spec))
    return candidates


def factor_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``C * prod_i g_i(x_Gi)`` when a surrogate shows ``y`` is a product.

    Returns the candidates (simplified against the real data, as ``Candidate`` of
    :mod:`skkan.discovery._trials`) and the surrogate's training iterations; none when
    the surrogate shows fewer than two factors.
    """
    rows = np.arange(len(y_fit))
    if len(rows) > SURROGATE_ROWS:
        rows = np.linspace(0, len(y_fit) - 1, SURROGATE_ROWS).round().astype(int)
    function, error, n_iter = fit_surrogate(X_fit[rows], y_fit[rows], spec.seed)
    groups = multiplicative_groups(input_derivatives(function, X_fit[rows]), None)
    if len(groups) < 2:
        return [], n_iter
    values = _evaluate(function, X_fit[rows])
    # The reference row: where |f| is largest, every factor is far from its zeros.
    reference = np.array(X_fit[rows][int(np.argmax(np.abs(values)))], dtype=np.float64)
    at_reference = float(values.max() if values.max() >= -values.min() else values.min())

    def factor_rows(X, group):
        rows = np.repeat(reference[None, :], len(X), axis=0)
        rows[:, group] = X[:, group]
        return rows

    choices = []
    for k, group in enumerate(groups):
        group = list(group)
        values = (_evaluate(function, factor_rows(X_fit, group)), _evaluate(function, factor_rows(X_val, group)))
        formulas, _ = _factor_formulas(group, values, X_fit, X_val, symbols, settings, error, spec.seed + k + 1)
        if not formulas:
            return [], n_iter
        choices.append(formulas)
    scale = 1.0 / at_reference ** (len(groups) - 1)
    return _product_candidates(spec, choices, scale, X_fit, y_fit, X_val, y_val, symbols, settings), n_iter


def product_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates ``a + C * prod_g g(x_G)`` for the groups ``spec.groups`` of a product of
    splines (``a`` is 0 unless the product needed a constant).

    The factors are fitted on all training rows (:func:`skkan.discovery._products.fit_product`),
    each factor's formula is discovered on the factor's values, and the products of
    the formulas are simplified against the real rows. Returns the candidates and 0
    training iterations (no network is trained here).
    """
    import sympy

    from ._products import CONSTANT_FACTOR, fit_product

    y = np.concatenate([y_fit, y_val])
    fit = fit_product(np.vstack([X_fit, X_val]), y, spec.groups, len(y_fit), seed=spec.seed, offset=spec.offset)
    # Each factor's relative error is at most the product's (the factors have unit
    # root mean square): the noise floor of its sub-discovery.
    error = float(np.sqrt(max(fit.residual, 0.0)) * np.std(y) / max(abs(fit.scale), 1e-300))
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
        spec, choices, fit.scale, X_fit, y_fit, X_val, y_val, symbols, settings, offset=fit.offset
    )
    return candidates, 0
