"""Formula discovery: sparse KANs with restarts, snapping, simplification, a table.

One *trial* trains a sparse KAN on the training rows (on ``y`` itself; on
``log(s * y)`` when ``y`` keeps one sign ``s``: products and powers become sums, which
a KAN learns edge by edge; when ``y`` is a monomial of positive inputs times a
function of the others, on ``y`` divided by that monomial; and, when ``y`` keeps one
sign, on the powers ``(s * y)**p``, ``p`` in :data:`POWERS`, of ``y`` and of that
quotient: ``y**2`` turns a Euclidean norm into a sum of squares, ``1/y`` a
reciprocal of a sum into the sum, ``1/y**2`` a relativistic ``1/sqrt(1 - v**2/c**2)``
into ``1 - v**2/c**2``), prunes it, snaps every edge to the symbolic library
(``auto_symbolic`` with retraining), reads the formula off the network, undoes the
transform exactly (``s * f**(1/p)``, times the monomial) and simplifies it against the
data (:func:`skkan.symbolic._simplify.simplify_formula`). Trials run in stages, cheapest first:

1. additive models, one KAN layer (``y = sum f_i(x_i)``; with the log target,
   ``y = prod f_i(x_i)``; with the monomial, ``y = x**p * sum f_i(x_i)``), then
   the additive models that a least-squares screen of additive splines
   (:mod:`skkan.discovery._screen`) finds promising among every target above and below, of
   ``y`` and of ``sin(y)`` (read back as ``asin``), under every change of variables
   that merges two inputs (``x_i*x_j`` or ``x_i/x_j`` of positive inputs,
   ``x_i - x_j``) or makes two merges (:func:`skkan.discovery._screen.substitutions`;
   :func:`screened_trials`); after those, when ``y`` keeps one sign and is a power
   product times a function of one or two other power products of the inputs, a
   discovery of that function on its one or two inputs
   (:func:`skkan.discovery._groups.group_trial`); when ``y`` changes sign with one input
   ``x_i`` only, a discovery of the one-signed ``y/x_i``
   (:func:`skkan.discovery._coefficients.odd_factor_trial`); when a product of spline factors of
   one or two inputs each fits ``y`` (:func:`product_groups`,
   :mod:`skkan.discovery._products`), a product trial
   (:func:`skkan.discovery._factors.product_trial`: each factor discovered on its
   own inputs, the product simplified on the real rows); otherwise, when ``y`` is
   linear in all inputs but one or two, with coefficients that are functions of those
   (:func:`skkan.discovery._coefficients.linear_structure`), a trial that discovers
   every coefficient on its fitted values and sums the formulas
   (:func:`skkan.discovery._coefficients.linear_trial`);
2. additive models of the powers (``y = (sum f_i(x_i))**(1/p)``); with one positive
   input ``x``, also of ``y/x**k`` and its reciprocal (:data:`ONE_INPUT_POWERS`);
3. one hidden layer on every target above, one stage per random restart; when ``y``
   changes sign, a tree trial after the first of them
   (:func:`skkan.discovery._factors.factor_trial`: tables of a surrogate network's
   values show ``y`` is, recursively, a sum or a product of functions of disjoint
   groups of inputs, each leaf is discovered on the network's data, the combination
   simplified on the real rows); then, with three inputs or more, a
   trial for a term linear in one input whose coefficient has few inputs, beside a
   term of all the others (:func:`skkan.discovery._linear_term.linear_term_trial`:
   a surrogate shows the input and its coefficient's inputs, the coefficient is
   discovered on the surrogate's slopes and the rest on the real rows);
4. one hidden layer snapped to polynomials only, on ``y`` and ``y**2`` (products of
   signed inputs come out as expanded polynomials, ``x*y`` from
   ``((x + y)**2 - (x - y)**2) / 4``).

Discovery stops after the first stage that finds an exact formula (held-out relative
error under ``1e-18``), since later stages only add more complex candidates. Every
formula of every simplification path goes into one pool; :func:`pareto_table` keeps,
for each complexity, the most accurate one that beats every simpler one, and
:func:`select_best` applies PySR's ``model_selection="best"`` rule. Held-out losses
are floored (:data:`skkan.symbolic._simplify.LOSS_FLOOR`), so float rounding, which differs
between machines, never decides between exact formulas: the simplest exact one wins.

This module holds no estimator state; :class:`skkan.KANSymbolicRegressor` calls it.
A trial trains its network through the engine (:func:`skkan._training.train` and
:mod:`skkan._operations`), the same code that ``fit``, ``prune``, ``auto_symbolic``
and ``get_formula`` of :class:`skkan.KANRegressor` run.
"""

import functools
import math
import re
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from .._progress import Progress
from ..symbolic._simplify import LOSS_FLOOR, float_count, simplify_formula
from ._cache import ArrayCache, array_digest
from ._noise import NOISE_ROWS, finite_level, indistinguishable, quotient_noise_level, squared_errors, within_noise
from ._screen import (
    SPLINE_KNOTS,
    additive_residuals,
    apply_substitution,
    design_columns,
    merged_column,
    polynomial_basis,
    substitutions,
)

__all__ = [
    "TrialSpec", "discover", "format_uncertainties", "noise_columns", "pareto_table", "select_best", "supported_digits",
]

# Held-out relative error under which a stage has found the law and later stages are
# skipped: float64 rounding of an exact law (~1e-30), far below what a dozen
# constants of a wrong formula reach on smooth data (seen: 4e-12).
EXACT_LOSS = 1e-18

# Powers of a one-signed target fitted besides it: y**2 turns a Euclidean norm into a
# sum of squares, 1/y turns 1/(1/a + b/c) into a sum, 1/y**2 turns
# 1/sqrt(1 - v**2/c**2) into 1 - v**2/c**2. Each is read back exactly (root, sign).
POWERS = (2, -1, -2)

# Powers x**k a problem of one positive input is divided by, in trials of their own,
# and the powers of the quotient each such trial fits: -2 turns
# x**2/sqrt(1 - x**2) over x**2 into 1 - x**2 (a Lorentz factor times a power).
ONE_INPUT_POWERS = (1, -1, 2, -2)
ONE_INPUT_TARGET_POWERS = (1, -1, -2, 2)

# Library of the polynomial stage.
POLYNOMIAL_LIBRARY = ("x", "x^2", "x^3", "0")


@dataclass(frozen=True)
class TrialSpec:
    """One sparse-KAN trial: target transform, hidden widths, library, seed."""

    stage: int
    transform: str
    hidden: tuple
    library: object
    seed: int
    # For transform "monomial": ((feature index, exponent), ...) dividing y.
    monomial: tuple = ()
    # Power of the (one-signed) target: the network fits (s * y)**power, or
    # (s * y / monomial)**power, and the formula is read back with the root.
    power: int = 1
    # Change of variables of the network's inputs, ((i, j, op), ...) applied in turn:
    # column i becomes x_i op x_j, op one of "*", "/", "-" (see skkan.discovery._screen); the
    # formula is read back in the raw inputs.
    substitution: tuple = ()
    # "sin": the network fits transforms of sin(y) in place of y (for |y| < pi/2) and
    # the formula is read back as asin(...); "" for y itself.
    outer: str = ""
    # Grid intervals of the trial's splines (0: the estimator's grid_size), and
    # whether they are evenly spaced rather than at the data's quantiles.
    grid_size: int = 0
    uniform_grid: bool = False
    # For transform "products": the groups of inputs of the factors of a product of
    # splines (skkan.discovery._products), ((i, ...), ...), and whether a constant is
    # added to the product.
    groups: tuple = ()
    offset: bool = False
    # The snapped formula (in x0, x1, ...) of the additive trial this spec repeats, to
    # rediscover its misfit terms (skkan.discovery._additive_terms); None otherwise.
    refine: object = None

    def describe(self):
        if self.refine is not None:
            return f"misfit terms of [{replace(self, refine=None).describe()}] rediscovered on the real rows"
        if self.transform == "additive terms":
            return "misfit terms of the best additive trial rediscovered on the real rows"
        if self.transform == "odd factor":
            factor = "*".join(f"x{index}" for index, _ in self.monomial)
            return f"y = {factor} * f(x), f discovered on y/({factor}) (seed {self.seed})"
        if self.transform == "fractional":
            z = ", ".join(f"x{i}" for i in self.groups[0])
            return (
                f"y = (g_0({z}) + sum_j x_j * g_j({z})) / (1 + sum_j x_j * h_j({z})), coefficients fitted locally "
                f"(seed {self.seed})"
            )
        if self.transform == "linear":
            z = ", ".join(f"x{i}" for i in self.groups[0])
            return f"y = g_0({z}) + sum_j x_j * g_j({z}), coefficients fitted as polynomials or locally (seed {self.seed})"
        if self.transform == "quadratic":
            z = ", ".join(f"x{i}" for i in self.groups[0])
            target = "y" if self.power == 1 else f"y^{self.power}"
            return (
                f"{target} = g_0({z}) + sum_j x_j * g_j({z}) + sum_j<=k x_j * x_k * g_jk({z}), coefficients fitted as "
                f"polynomials (seed {self.seed})"
            )
        if self.transform == "group":
            groups = ", ".join(f"u{k} = " + "*".join(f"x{i}^{e}" for i, e in group) for k, group in enumerate(self.groups))
            prefactor = "*".join(f"x{i}^{e}" for i, e in self.monomial) or "1"
            arguments = ", ".join(f"u{k}" for k in range(len(self.groups)))
            return f"y = {prefactor} * f({arguments}), {groups}, f discovered on its own inputs (seed {self.seed})"
        if self.transform == "index":
            group = "*".join(f"x{i}^{e}" for i, e in self.groups[0])
            prefactor = "*".join(f"x{i}^{e}" for i, e in self.monomial)
            if prefactor:
                return (f"y = {prefactor} * f(u0), u0 = {group}, the power product y/({prefactor}) is smoothest along "
                        f"(seed {self.seed})")
            return f"y = f(u0), u0 = {group}, the power product y is smoothest along (seed {self.seed})"
        if self.transform == "factors":
            return f"y = sums and products of factors found on a surrogate KAN[20] (seed {self.seed})"
        if self.transform == "power sum":
            return f"y = a + b*x0^p + c*x0^q, least squares for every pair of simple exponents (seed {self.seed})"
        if self.transform == "linear term":
            return f"y = g_0(x without x_j) + x_j * g_1(x), x_j found on a surrogate KAN[20] (seed {self.seed})"
        if self.transform == "products":
            factors = " * ".join("f(" + ", ".join(f"x{i}" for i in group) + ")" for group in self.groups)
            target = "y/(" + "*".join(f"x{i}^{e:g}" for i, e in self.monomial) + ")" if self.monomial else "y"
            return f"{target} = {'a + ' if self.offset else ''}{factors}, factors fitted as splines (seed {self.seed})"
        library = "poly" if self.library == POLYNOMIAL_LIBRARY else "full"
        if self.transform == "log":
            target = "log|y|"
        elif self.transform == "monomial":
            target = "y/(" + "*".join(f"x{i}^{e:g}" for i, e in self.monomial) + ")"
        else:
            target = "y"
        if self.power != 1:
            target = f"({target})^{self.power}" if self.transform == "monomial" else f"{target}^{self.power}"
        if self.outer == "sin":
            target = target.replace("y", "sin(y)")
        inputs = "".join(f", x{i}->x{i}{op}x{j}" for i, j, op in self.substitution)
        return f"{target} ~ KAN{list(self.hidden)} ({library} library{inputs}, seed {self.seed})"


@dataclass
class Candidate:
    """A formula of the pool, with where it came from."""

    expression: object
    complexity: int
    loss: float
    train_loss: float
    trial: TrialSpec
    # Standard error of each float constant of the expression (sympy.Float -> float).
    uncertainties: dict = None
    # An additive trial's snapped formula of its target (in x0, x1, ...), whose misfit
    # terms a later stage may rediscover; None for other trials.
    network_formula: object = None


def _candidates(path, spec):
    """The formulas of a simplification path as candidates found by ``spec``."""
    return [
        Candidate(step.expression, step.complexity, step.validation_loss, step.train_loss, spec, step.uncertainties)
        for step in path
    ]


def target_sign(y):
    """+1 or -1 when ``y`` keeps one strict sign (a log target is possible), else 0."""
    if np.all(y > 0):
        return 1
    if np.all(y < 0):
        return -1
    return 0


def monomial_prefactor(X, y):
    """Integer or half-integer powers of positive inputs that ``y`` is proportional to.

    For a signed ``y`` (no log target), ``log|y|`` is still a sum when ``y`` is a
    monomial of positive inputs times a signed function of the others (``-m B cos
    theta``): a least-squares fit of ``log|y|`` on the logs of the positive inputs gives
    the powers. The signed factor's ``log|f|`` is independent of those inputs, so the
    fit is unbiased; rows far below the fit (near a zero of ``f``) are trimmed, which
    keeps it unbiased (a mask on ``|y|`` would not: it keeps rows where the monomial is
    large) and makes it precise. Returns ``((index, power), ...)`` of the powers within 0.15 of
    a multiple of 1/2 (two standard errors for a few hundred rows), or ``()``.
    """
    positive = np.flatnonzero(np.all(X > 0, axis=0))
    magnitude = np.abs(y)
    if len(positive) == 0 or len(y) < 20 or not np.all(magnitude > 0):
        return ()
    logs = np.log(X[:, positive])
    target = np.log(magnitude)
    design = np.column_stack([logs, np.ones(len(y))])
    rows = np.ones(len(y), dtype=bool)
    for _ in range(4):
        coefficients = np.linalg.lstsq(design[rows], target[rows], rcond=None)[0]
        # Rows far below the fit sit near a zero of the signed factor, whatever the
        # monomial's value there: trimming on the residual does not bias the powers,
        # and it removes the heavy tail of log|f| that makes them noisy.
        rows = target - design @ coefficients > -1.0
        if rows.sum() < 10:
            return ()
    logs, target, design = logs[rows], target[rows], design[rows]
    powers = coefficients[:-1]
    rounded = np.round(2 * powers) / 2
    keep = (np.abs(powers - rounded) < 0.15) & (rounded != 0)
    linear_residual = float(np.sum((design @ coefficients - target) ** 2))
    for k in np.flatnonzero(keep):
        # A pure power is linear in log x: if curvature in log x explains more than 10 %
        # of the residual, x enters through a function (cos(theta): over 90 %), not a
        # power (noise: about 1 %).
        curved = np.column_stack([design, logs[:, k] ** 2, logs[:, k] ** 3])
        fit = np.linalg.lstsq(curved, target, rcond=None)[0]
        if float(np.sum((curved @ fit - target) ** 2)) < 0.9 * linear_residual:
            keep[k] = False
    return tuple((int(positive[k]), float(rounded[k])) for k in np.flatnonzero(keep))


def _monomial_expression(symbols, monomial):
    import sympy

    return sympy.Mul(*(symbols[i] ** sympy.nsimplify(power) for i, power in monomial))


def _monomial_values(X, monomial):
    """``prod_i x_i**power`` over ``((i, power), ...)`` (powers float or Fraction)."""
    values = np.ones(len(X))
    for index, power in monomial:
        values = values * X[:, index] ** float(power)
    return values


def _power_targets(monomial):
    """``(transform, power)`` of the powers of a one-signed ``y`` and of ``y / monomial``
    (the quotient by a monomial of positive inputs keeps the sign too)."""
    bases = ["identity"] + (["monomial"] if monomial else [])
    return [(base, power) for base in bases for power in POWERS]


def plan_trials(n_features, sign, *, n_restarts, hidden_width, transforms, random_state, monomial=()):
    """The trials of every stage, in order.

    1. additive networks on ``y``, ``log|y|`` and ``y`` over its monomial;
    2. when ``y`` keeps one sign: additive networks on the powers :data:`POWERS` of
       ``y`` and of ``y`` over its monomial;
    3. one hidden layer on every target of stages 1 and 2, one stage per restart (the
       powers with the first restart only);
    4. one hidden layer snapped to polynomials, on ``y`` (and ``y**2``).
    """
    auto = transforms == "auto"
    use_log = auto and sign != 0
    targets = ([("log", 1)] if use_log else []) + [("identity", 1)]
    if auto and sign == 0 and monomial:
        targets.insert(0, ("monomial", 1))
    powers = _power_targets(monomial) if auto and sign != 0 else []
    width = hidden_width if hidden_width != "auto" else int(min(2 * n_features + 1, 5))
    seeds = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max, size=n_restarts + 2)
    first = list(targets)
    if auto and sign != 0 and monomial:
        # A monomial times a sum (m * (u**2 + v**2) / 2): the quotient is additive.
        first.append(("monomial", 1))

    def spec(stage, target, hidden, library, seed):
        transform, power = target
        return TrialSpec(stage, transform, hidden, library, int(seed), monomial if transform == "monomial" else (), power)

    stages = [[spec(1, target, (), None, seeds[0]) for target in first]]
    if powers:
        stages.append([spec(2, target, (), None, seeds[0]) for target in powers])
    # One stage per restart, so that a law found by the first seed skips the others;
    # the power targets only with the first seed, which bounds the cost of data
    # without a law (every stage runs) at about twice that of the plain targets.
    for restart, seed in enumerate(seeds[1 : 1 + n_restarts]):
        stages.append([spec(3, target, (width,), None, seed) for target in targets + (powers if restart == 0 else [])])
    polynomial_targets = [("identity", 1)] + ([("identity", 2)] if powers else [])
    stages.append([spec(4, target, (width,), POLYNOMIAL_LIBRARY, seeds[-1]) for target in polynomial_targets])
    return stages


# The screen (skkan.discovery._screen) proposes an additive trial on a change of variables or on
# sin(y) when the additive spline fit of that target is at most SCREEN_RESIDUAL
# (relative; a cosine over four periods of a skewed k*d reaches about 1e-5) and at
# most SCREEN_GAIN times the best fit of the targets stage 1 tries anyway.
SCREEN_RESIDUAL = 1e-2
SCREEN_GAIN = 1e-2
# Screened trials per discovery, and the factor by which each change of variables
# must beat the simpler candidate (so that an input the target does not depend on is
# not substituted: its change leaves the residual as it is).
SCREEN_TRIALS = 2
# Residual of a target that an additive spline fits to its precision (a smooth
# additive target: 1e-12 to 1e-6), and how many such candidates are tried.
SCREEN_NEAR_EXACT = 1e-5
SCREEN_EXACT_TRIALS = 4
SCREEN_CHANGE_COST = 10.0
# Residuals below this are float rounding of an exact fit and do not rank candidates.
SCREEN_FLOOR = 1e-14
# Grid of the screened trials: evenly spaced and finer than the default, since a
# merged input such as k*d is skewed and its curve may oscillate (cos(k*d), k*d up to
# 25, snaps for 6 of 6 seeds this way against 4 of 6 on a coarse quantile grid).
SCREEN_GRID_SIZE = 10
# Rows the screen fits (evenly spread over the training rows), and the most changes of
# variables it tries: 4 positive inputs give 69 (with the double merges), 6 give 75
# single merges and cost about 1.5 s; beyond that only sin(y) is screened, since the
# cost grows with the fourth power of the inputs.
SCREEN_ROWS = 1000
SCREEN_MAX_CHANGES = 80


def screened_trials(X, y, monomial, seed):
    """Additive trials that the additive-spline screen finds promising.

    Candidates are the targets of stages 1 and 2 and, when ``|y| < pi/2``, the same
    targets of ``sin(y)`` (read back with ``asin``: ``asin(n*sin(theta))``), each
    under every change of variables of :func:`skkan.discovery._screen.substitutions` (none
    beyond :data:`SCREEN_MAX_CHANGES`). Returns at most :data:`SCREEN_TRIALS` specs
    (stage 1, no hidden layer), best first; none when nothing beats stage 1's own
    targets clearly.
    """
    X, y, targets, specs = _screen_targets(X, y, monomial, seed)
    if not specs:
        return []
    changes = _screen_changes(X)
    residuals = np.maximum(_screen_residuals(X, np.column_stack(targets), changes), SCREEN_FLOOR)
    # What stage 1 tries anyway: y itself (its log, its monomial quotient), no change.
    covered = [k for k, spec in enumerate(specs) if spec.outer == "" and spec.power == 1]
    reference = residuals[0, covered].min() if covered else np.inf
    ranked = []
    for row, change in enumerate(changes):
        for k, spec in enumerate(specs):
            if not change and spec.outer == "":
                continue  # stages 1 and 2 try these
            residual = residuals[row, k]
            if residual <= SCREEN_RESIDUAL and residual <= SCREEN_GAIN * reference:
                ranked.append((residual * SCREEN_CHANGE_COST ** len(change), row, k))
    # Under a change of variables, log|y| may be additive with pure powers of the
    # unchanged positive inputs (c**2/sqrt(1 - v**2/c**2): 2*log(c) plus a function of
    # v/c). Dividing y by that monomial, which the global regression of
    # monomial_prefactor misses when the merged input depends on c, leaves a function
    # of the merged input whose powers may be polynomials ((y/c**2)**-2 = 1 - (v/c)**2).
    logs = [k for k, spec in enumerate(specs) if spec.transform == "log" and spec.outer == "" and spec.power == 1]
    extra_residual_of, extra_target_of = {}, {}
    for row, change in enumerate(changes):
        if not change or not logs or residuals[row, logs[0]] > SCREEN_RESIDUAL:
            continue
        changed_monomial = changed_monomial_prefactor(X, y, change, residuals[row, logs[0]])
        if not changed_monomial or changed_monomial == monomial:
            continue
        extra = []
        for transform, power in [("monomial", 1)] + _power_targets(changed_monomial)[len(POWERS):]:
            spec = TrialSpec(1, transform, (), None, int(seed), changed_monomial, power)
            target = network_target(spec, X, y)
            if target is not None and np.var(target) > 0:
                extra.append((spec, target))
        if not extra:
            continue
        extra_residuals = np.maximum(additive_residuals(X, np.column_stack([t for _, t in extra]), [change]), SCREEN_FLOOR)
        for (spec, target), residual in zip(extra, extra_residuals[0]):
            if residual <= SCREEN_RESIDUAL and residual <= SCREEN_GAIN * reference:
                specs.append(spec)
                extra_residual_of[len(specs) - 1] = residual
                extra_target_of[len(specs) - 1] = target
                ranked.append((residual * SCREEN_CHANGE_COST ** len(change), row, len(specs) - 1))

    def residuals_at(row, k):
        return residuals[row, k] if k < residuals.shape[1] else extra_residual_of[k]

    def target_of(k):
        return targets[k] if k < len(targets) else extra_target_of[k]

    # Candidates a spline fits to its precision (or, on a sub-problem's fitted values,
    # to their error) tie on the spline's residual; the targets that additive cubic
    # polynomials fit as well go first, since their curves snap: (y*c**2)**-2 = 1 -
    # (v/c)**2 of a coefficient known to 3e-5 ranked fifth by its spline residual.
    near_exact = {}
    for _, row, k in ranked:
        if residuals_at(row, k) <= SCREEN_NEAR_EXACT:
            near_exact.setdefault(row, []).append(k)
    coarse = {}
    for row, columns in near_exact.items():
        fitted = additive_residuals(X, np.column_stack([target_of(k) for k in columns]), [changes[row]], polynomial_basis)
        coarse.update({(row, k): max(float(value), SCREEN_FLOOR) for k, value in zip(columns, fitted[0])})
    ranked = sorted(
        ((coarse[row, k] * SCREEN_CHANGE_COST ** len(changes[row]), row, k) for _, row, k in ranked if (row, k) in coarse)
    ) + sorted(entry for entry in ranked if (entry[1], entry[2]) not in coarse)

    # Candidates that fit to spline precision all look additive, and the residual
    # cannot tell which one's curves snap (sqrt((1 + u)/(1 - u)) does not, its inverse
    # square 2/(1 + u) - 1 does): up to SCREEN_EXACT_TRIALS of them are tried.
    exact = sum(residuals_at(row, k) <= SCREEN_NEAR_EXACT for _, row, k in ranked)
    count = max(SCREEN_TRIALS, min(exact, SCREEN_EXACT_TRIALS))
    return [
        replace(specs[k], substitution=changes[row], grid_size=SCREEN_GRID_SIZE, uniform_grid=True)
        for _, row, k in ranked[:count]
    ]


def _screen_targets(X, y, monomial, seed):
    """The screen's rows (at most :data:`SCREEN_ROWS`, evenly spread) and its
    candidate targets with their specs (see :func:`screened_trials`)."""
    if len(y) > SCREEN_ROWS:
        rows = np.linspace(0, len(y) - 1, SCREEN_ROWS).round().astype(int)
        X, y = X[rows], y[rows]

    outers = [""] + (["sin"] if np.max(np.abs(y)) < np.pi / 2 else [])
    targets, specs = [], []
    for outer in outers:
        base = np.sin(y) if outer == "sin" else y
        sign = target_sign(base)
        outer_monomial = monomial if outer == "" else monomial_prefactor(X, base)
        options = [("identity", 1)] + ([("log", 1)] if sign else []) + ([("monomial", 1)] if outer_monomial else [])
        if sign:
            options += _power_targets(outer_monomial)
        for transform, power in options:
            spec = TrialSpec(1, transform, (), None, int(seed), outer_monomial if transform == "monomial" else (), power,
                             outer=outer)
            target = network_target(spec, X, y)
            if target is not None and np.var(target) > 0:
                targets.append(target)
                specs.append(spec)
    return X, y, targets, specs


def _screen_changes(X):
    """The changes of variables the screen fits: all of them within
    :data:`SCREEN_MAX_CHANGES`, else none (the cost grows with the fourth power of the
    inputs)."""
    changes = substitutions(X, max_changes=SCREEN_MAX_CHANGES)
    return [()] if len(changes) - 1 > SCREEN_MAX_CHANGES else changes


# The screen's residuals of the last few data, so that the noise bound of the
# estimator (screen_noise_level) and the screened trials fit them once.
_screen_cache = ArrayCache(2)


def _screen_residuals(X, targets, changes, scales=None):
    """:func:`skkan.discovery._screen.additive_residuals`, kept for the next call on the
    same data (with ``scales``, also the scaled residuals, not kept)."""
    key = array_digest((X, targets), (changes, SPLINE_KNOTS))
    if scales is None:
        cached = _screen_cache.get(key)
        if cached is not None:
            return cached
        residuals = additive_residuals(X, targets, changes)
    else:
        residuals, scaled = additive_residuals(X, targets, changes, scales=scales)
    _screen_cache.put(key, residuals)
    return residuals if scales is None else (residuals, scaled)


# The screen's noise bound replaces the estimate where it is below this fraction of it
# (as the single-index bound does: where the two agree, the estimate stands).
SCREEN_NOISE_FRACTION = 0.5
# Relative step of the numerical derivative of a target with respect to y.
_TARGET_STEP = 1e-6


def screen_noise_level(X_fit, y_fit, X_val, y_val, noise_level):
    """``noise_level``, or an upper bound on the noise from the screen's additive fits
    where that bound is below half of it.

    Any fit of a smooth model leaves at least the noise: the residual of each of the
    screen's additive spline fits (every candidate target under every change of
    variables, :func:`screened_trials`), carried back to the units of ``y`` (divided
    by the target's derivative with respect to ``y``, row by row) and corrected for
    the fit's degrees of freedom, bounds the noise's variance from above. The lowest
    one bounds it best. On exact data the Gaussian process of
    :func:`skkan.discovery._noise.estimate_noise` leaves what it cannot follow as
    noise (``a*log(d/e)/(b*c)`` of five inputs: 5e-4 of y's spread, where ``y`` over
    ``a/(b*c)`` is additive in ``d`` and ``e`` to float precision), and an
    approximation within that floor ended discovery before the stage that finds the
    law. For the estimator's own estimate only, as
    :func:`skkan.discovery._single_index.lowered_noise_level`.
    """
    if noise_level is None or not np.isfinite(noise_level) or noise_level <= 0:
        return noise_level
    X_all, y_all = np.vstack([X_fit, X_val]), np.concatenate([y_fit, y_val])
    X, y, targets, specs = _screen_targets(X_fit, y_fit, monomial_prefactor(X_all, y_all), 0)
    degrees = len(y) - design_columns(X.shape[1])
    if not specs or degrees < 0.5 * len(y):
        return noise_level
    # d target / d y by central differences; rows where it vanishes bound nothing.
    step = _TARGET_STEP * (np.abs(y) + _TARGET_STEP * float(np.sqrt(np.mean(y**2))))
    scales = []
    for spec in specs:
        above, below = network_target(spec, X, y + step), network_target(spec, X, y - step)
        if above is None or below is None:
            scales.append(np.full(len(y), np.inf))
            continue
        with np.errstate(all="ignore"):
            slope = (above - below) / (2.0 * step)
            scales.append(np.where(np.abs(slope) > 0, 1.0 / np.abs(slope), np.inf))
    from ..nn._threads import limited_threads

    changes = _screen_changes(X)
    with limited_threads(1):  # many small solves, as in discover
        _, scaled = _screen_residuals(X, np.column_stack(targets), changes, scales=np.column_stack(scales))
    with np.errstate(invalid="ignore"):
        bound = float(np.sqrt(np.nanmin(scaled) * len(y) / degrees)) if np.any(np.isfinite(scaled)) else np.inf
    return bound if bound < SCREEN_NOISE_FRACTION * noise_level else noise_level


# A power of an unchanged positive input is read off the partially linear fit when
# fitting log|y| with that input's log in place of its spline costs at most this
# factor of the additive fit's residual (plus float rounding), and the power is within
# MONOMIAL_TOLERANCE of a multiple of 1/2.
POWER_RESIDUAL_FACTOR = 10.0
MONOMIAL_TOLERANCE = 0.02


def changed_monomial_prefactor(X, y, change, additive_residual):
    """Powers of the unchanged positive inputs that ``|y|`` is proportional to, under
    the change of variables ``change`` (see :func:`screened_trials`).

    For each positive input the change leaves as it is, ``log|y|`` is fitted with
    that input's log (one coefficient) and a spline of every other (changed) column;
    where the fit is as good as the additive one, the coefficient is the power.
    Returns ``((index, power), ...)`` or ``()``.
    """
    from ._screen import spline_basis

    changed = apply_substitution(X, change)
    magnitude = np.abs(y)
    if not np.all(magnitude > 0):
        return ()
    target = np.log(magnitude)
    variance = max(float(np.var(target)), 1e-300)
    modified = {i for i, _, _ in change}
    positive = [k for k in np.flatnonzero(np.all(changed > 0, axis=0)) if k not in modified]
    bases = [spline_basis(changed[:, k]) for k in range(X.shape[1])]
    monomial = []
    for k in positive:
        design = np.column_stack([np.log(changed[:, k])] + [b for j, b in enumerate(bases) if j != k] + [np.ones(len(y))])
        coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
        residual = float(np.mean((target - design @ coefficients) ** 2)) / variance
        power = float(coefficients[0])
        rounded = round(2 * power) / 2
        if residual <= POWER_RESIDUAL_FACTOR * additive_residual + 1e-12 and rounded != 0:
            if abs(power - rounded) <= MONOMIAL_TOLERANCE:
                monomial.append((int(k), float(rounded)))
    return tuple(monomial)


def _power_root(formula, power, sign):
    """``sign * formula**(1/power)``: the target's transform undone."""
    import sympy

    return sign * formula ** sympy.Rational(1, power)


def outer_target(spec, y):
    """``y``, or ``sin(y)`` for a trial on the sine of the target."""
    return np.sin(y) if spec.outer == "sin" else y


def network_target(spec, X, y):
    """What the trial's network fits, from the raw ``X`` and ``y``.

    Returns None when the transform does not apply (a log or power of a target that
    changes sign) or gives non-finite values.
    """
    base = outer_target(spec, y)
    sign = target_sign(base)
    if spec.transform == "log":
        if sign == 0:
            return None
        target = np.log(sign * base)
    elif spec.transform == "monomial":
        target = base / _monomial_values(X, spec.monomial)
    else:
        target = base
    if spec.power != 1:
        if sign == 0:
            return None
        with np.errstate(all="ignore"):
            target = (sign * target) ** float(spec.power)
    return target if np.all(np.isfinite(target)) else None


def read_back(formula, spec, symbols, sign):
    """The network's formula (in ``x0, x1, ...``) as a formula for ``y`` in ``symbols``.

    Undoes, in reverse order, what :func:`network_target` and the change of
    variables did: exactly, so that the printed law and the network agree.
    """
    import sympy

    # The network's symbols are x0, x1, ...: rename them to the caller's, with the
    # change of variables written out (x_i -> x_i op x_j).
    inputs = list(symbols)
    for i, j, op in spec.substitution:
        inputs[i] = merged_column(inputs[i], inputs[j], op)
    network_symbols = [sympy.Symbol(f"x{i}") for i in range(len(symbols))]
    formula = formula.xreplace(dict(zip(network_symbols, inputs)))
    if spec.power != 1:
        formula = _power_root(formula, spec.power, sign)
    if spec.transform == "log":
        formula = sign * sympy.exp(formula)
    elif spec.transform == "monomial":
        formula = formula * _monomial_expression(symbols, spec.monomial)
    if spec.outer == "sin":
        formula = sympy.asin(formula)
    return formula


def run_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Train, prune, snap and simplify one sparse KAN.

    Returns its simplification path as candidates, and the training iterations.
    """
    import sympy

    if spec.transform == "factors":
        from ._factors import factor_trial

        return factor_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.transform == "linear term":
        from ._linear_term import linear_term_trial

        return linear_term_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.refine is not None:
        return _refined_candidates(spec, X_fit, y_fit, X_val, y_val, symbols, settings), 0
    if spec.transform == "power sum":
        from ._power_sums import power_sum_trial

        return power_sum_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.transform == "odd factor":
        from ._coefficients import odd_factor_trial

        return odd_factor_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.transform in ("linear", "fractional", "quadratic"):
        from ._coefficients import linear_trial

        return linear_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.transform in ("group", "index"):
        from ._groups import group_trial

        return group_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    if spec.transform == "products":
        from ._factors import product_trial

        return product_trial(spec, X_fit, y_fit, X_val, y_val, symbols, settings)
    target = network_target(spec, X_fit, y_fit)
    if target is None:
        return [], 0
    sign = target_sign(outer_target(spec, y_fit))
    additive = not spec.hidden
    if spec.transform == "monomial" and spec.power == 1 and np.std(target) <= 1e-10 * abs(np.mean(target)):
        # y is the monomial times a constant: nothing is left for a network to learn.
        formula = read_back(sympy.Float(float(np.mean(target))), spec, symbols, sign)
        path = simplify_formula(
            formula, symbols, X_fit, y_fit, X_val, y_val, tolerance=settings["tolerance"], random_state=spec.seed
        )
        return _candidates(path, spec), 0
    params = {
        **_NETWORK_PARAMS,
        "hidden_layer_sizes": spec.hidden,
        "grid_size": spec.grid_size or settings["grid_size"],
        # An evenly spaced grid follows a curve where the data thin out (cos(k*d) at
        # large k*d); the default grid follows the data's quantiles.
        "grid_eps": 1.0 if spec.uniform_grid or settings.get("uniform_grid", False) else 0.02,
        "lamb": settings["lamb"] * (0.1 if additive else 1.0),
        "max_iter": settings["max_iter"],
    }
    X_network = np.ascontiguousarray(apply_substitution(X_fit, spec.substitution), dtype=np.float64)
    library = settings["library"] if spec.library is None else spec.library
    try:
        with warnings.catch_warnings():
            # Convergence and outlier warnings of a trial's network are the trial's business.
            warnings.simplefilter("ignore", UserWarning)
            formula, n_iter = _network_formula(X_network, target, params, library, settings["symbolic_iter"], spec.seed)
    except (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError):
        return [], 0
    network_formula = formula if additive else None
    formula = read_back(formula, spec, symbols, sign)
    try:
        path = simplify_formula(
            formula, symbols, X_fit, y_fit, X_val, y_val, tolerance=settings["tolerance"], random_state=spec.seed
        )
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError):
        # A formula sympy cannot handle is a failed trial, not a failed fit.
        return [], n_iter
    candidates = _candidates(path, spec)
    for candidate in candidates:
        candidate.network_formula = network_formula
    return candidates, n_iter


def _refinement_stage(pool):
    """The stage that rediscovers the misfit terms of the additive trial with the
    lowest held-out loss in ``pool`` (its spec with ``refine`` set); empty when no
    additive trial left a formula."""
    additive = [c for c in pool if c.network_formula is not None and math.isfinite(c.loss)]
    if not additive:
        return []
    best = min(additive, key=lambda c: c.loss)
    return [replace(best.trial, stage=2, refine=best.network_formula)]


def _refined_candidates(spec, X_fit, y_fit, X_val, y_val, symbols, settings):
    """Candidates of an additive trial (``spec.refine``, its snapped formula) with its
    misfit terms rediscovered (:func:`skkan.discovery._additive_terms.refined_additive_formulas`),
    read back and simplified against the real rows."""
    import sympy

    from ._additive_terms import refined_additive_formulas
    from ._factors import _simplified_candidates

    X_network_fit = np.ascontiguousarray(apply_substitution(X_fit, spec.substitution), dtype=np.float64)
    X_network_val = np.ascontiguousarray(apply_substitution(X_val, spec.substitution), dtype=np.float64)
    t_fit, t_val = network_target(spec, X_fit, y_fit), network_target(spec, X_val, y_val)
    if t_fit is None or t_val is None:
        return []
    network_symbols = [sympy.Symbol(f"x{i}") for i in range(len(symbols))]
    formulas = refined_additive_formulas(
        spec.refine, network_symbols, X_network_fit, t_fit, X_network_val, t_val, settings, spec.seed
    )
    sign = target_sign(outer_target(spec, y_fit))
    formulas = [read_back(formula, spec, symbols, sign) for formula in formulas]
    return _simplified_candidates(spec, formulas, X_fit, y_fit, X_val, y_val, symbols, settings)


# A trial's network: full-batch L-BFGS on the training rows, float32, no early stopping.
_NETWORK_PARAMS = {
    "spline_order": 3,
    "lamb_l1": 1.0,
    "lamb_entropy": 2.0,
    "lamb_coef": 0.0,
    "lamb_coefdiff": 0.0,
    "solver": "lbfgs",
    "learning_rate_init": 0.03,
    "batch_size": "auto",
    "tol": 1e-4,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "n_iter_no_change": 5,
    "verbose": False,
    "device": "cpu",
    "dtype": "float32",
}


def _network_formula(X, y, params, library, symbolic_iter, seed):
    """Train a sparse KAN on ``(X, y)``, prune it (with hidden layers), snap every edge to
    ``library`` and read its formula in ``x0, x1, ...``; also the training iterations.
    """
    from dataclasses import replace as replace_field

    from .._operations import FittedNetwork, formulas, prune, snap
    from .._targets import RegressionTargets
    from .._training import TrainingConfig, train
    from ..symbolic._formula import formula_symbols

    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("A trial's inputs or target are not finite.")  # a failed trial
    weight = np.ones(len(y))
    targets = RegressionTargets.fit(y, weight)
    encoded = targets.encode(y)
    config = TrainingConfig.from_params(params, targets, X.shape[0], X.shape[1])
    result = train(X, encoded, weight, config, seed, description="trial")
    network = FittedNetwork(result.module, result.scaler, targets, *result.attribution)
    if params["hidden_layer_sizes"]:
        network = replace_field(network, module=prune(network, 1e-2, 3e-2))
    module, _ = snap(
        network, library, -np.inf, 0.5, retrain_data=(network.scaler.transform(X), encoded, weight),
        max_iter=symbolic_iter, refit_first=params["lamb"] > 0, random_state=seed,
    )
    network = replace_field(network, module=module)
    symbols = formula_symbols([f"x{i}" for i in range(X.shape[1])])
    expressions, _ = formulas(network, network.cpu64(), symbols, precision=None)
    return expressions[0], int(result.n_iter)


def baseline_candidates(X_fit, y_fit, X_val, y_val, symbols, tolerance):
    """The mean and the simplified least-squares line: the simple end of every table."""
    import sympy

    spec = TrialSpec(0, "identity", (), None, 0)
    design = np.column_stack([X_fit, np.ones(len(X_fit))])
    coefficients = np.linalg.lstsq(design, y_fit, rcond=None)[0]
    line = sum(sympy.Float(float(c)) * s for c, s in zip(coefficients[:-1], symbols)) + sympy.Float(float(coefficients[-1]))
    path = simplify_formula(line, symbols, X_fit, y_fit, X_val, y_val, tolerance=tolerance)
    mean = sympy.Float(float(np.mean(y_fit)))
    path += simplify_formula(mean, symbols, X_fit, y_fit, X_val, y_val, tolerance=tolerance)
    return _candidates(path, spec)


def _run_trial_quietly(spec, *args):
    from ..nn._threads import limited_threads

    # Trials are small: one thread each, so that parallel trials do not contend.
    with limited_threads(1):
        start = time.perf_counter()
        candidates, n_iter = run_trial(spec, *args)
        return candidates, n_iter, time.perf_counter() - start


def _sequential_until_found(stage, arguments, found, pool, within_reach):
    """Run a stage's trials in turn until the pool with their candidates has the law
    (``found``): a formula under :data:`EXACT_LOSS`, or one at the noise floor, which
    is checked only when a trial's best loss is under ``within_reach``."""
    results = []
    for spec in stage:
        results.append(_run_trial_quietly(spec, *arguments))
        best = min((c.loss for c in results[-1][0]), default=math.inf)
        if best <= EXACT_LOSS or (best <= within_reach and found(pool + [c for r in results for c in r[0]])):
            break
    return results


def discover(X_fit, y_fit, X_val, y_val, symbols, settings, *, n_restarts, hidden_width, transforms, random_state,
             n_jobs=None, verbose=0, noise_level=None, n_noise_rows=NOISE_ROWS):
    """Run the trials stage by stage; every candidate formula found.

    Discovery stops after the first stage that finds an exact formula or, given the
    estimated ``noise_level`` (standard deviation of the noise on ``y``, see
    :func:`skkan.discovery._noise.estimate_noise`), a formula whose held-out error is
    indistinguishable from that noise floor: later stages only add more complex
    candidates, and no formula can fit noisy rows better than the noise
    (``n_noise_rows``: the rows behind that estimate). Trials run
    one at a time (``n_jobs`` 1 or None) also end their stage there.

    Returns
    -------
    candidates : list of Candidate
    log : list of dict
        One record per trial: its description, time, best held-out loss and
        training iterations.
    """
    from ..nn._threads import limited_threads

    # One thread for the screens' many small least-squares solves, as the trials have:
    # two threads fight whenever the other core is busy (the linear screen of a law of
    # four inputs: 0.3 s on one thread, 1.2 to 9 s on two beside another fit).
    with limited_threads(1):
        return _discover(
            X_fit, y_fit, X_val, y_val, symbols, settings, n_restarts=n_restarts, hidden_width=hidden_width,
            transforms=transforms, random_state=random_state, n_jobs=n_jobs, verbose=verbose, noise_level=noise_level,
            n_noise_rows=n_noise_rows,
        )


def _discover(X_fit, y_fit, X_val, y_val, symbols, settings, *, n_restarts, hidden_width, transforms, random_state,
              n_jobs, verbose, noise_level, n_noise_rows):
    from joblib import Parallel, delayed

    def found(pool):
        if pool and min(c.loss for c in pool) <= EXACT_LOSS:
            return True
        return bool(pool) and noise_level is not None and _reaches_noise(
            pool, X_val, y_val, symbols, noise_level, n_noise_rows
        )

    pool = baseline_candidates(X_fit, y_fit, X_val, y_val, symbols, settings["tolerance"])
    if found(pool):
        # A line (or a constant) is the law: no screen or trial can do better. Common
        # for the factors of a product (B, q and v of q*v*B).
        return pool, []
    X_all, y_all = np.vstack([X_fit, X_val]), np.concatenate([y_fit, y_val])
    sign = target_sign(y_all)
    monomial = monomial_prefactor(X_all, y_all)
    stages = plan_trials(
        X_fit.shape[1], sign, n_restarts=n_restarts, hidden_width=hidden_width, transforms=transforms,
        random_state=random_state, monomial=monomial,
    )
    if not settings.get("hidden", True):
        # Additive, screened and product trials only (a sub-problem whose point is a
        # target transform; see skkan.discovery._coefficients.odd_factor_trial).
        stages = [stage for stage in stages if stage[0].stage < 3]
    if transforms == "auto" and X_fit.shape[1] == 1 and sign != 0 and not monomial and np.all(X_all > 0):
        # One positive input: x**k times a function of x, or the reciprocal of one
        # (x/(exp(x) - 1), a sub-problem of Planck's law, is x over exp(x) - 1). Each
        # is one additive trial of a second or less, before the hidden layers.
        one_input = [
            TrialSpec(2, "monomial", (), None, int(stages[0][0].seed), monomial=((0, k),), power=power)
            for k in ONE_INPUT_POWERS for power in ONE_INPUT_TARGET_POWERS
        ]
        stages.insert(_before_hidden_stages(stages), one_input)
    if transforms == "auto" and X_fit.shape[1] == 1:
        # One input: a sum of two of its powers plus a constant (sqrt(r) + 1/sqrt(r),
        # a term of a sum), which no library function is. Least squares, in
        # milliseconds, before the hidden layers but after the additive trials:
        # three constants and two exponents fit a smooth coefficient to within the
        # error of its values and would end its discovery with an approximation
        # (I.15.3t's coefficient 1/(w*sqrt(w**2 - 1)) of w = c/u, found exactly by a
        # power of the target over w**2).
        stages.insert(_before_hidden_stages(stages), [TrialSpec(2, "power sum", (), None, int(stages[0][0].seed))])
    if transforms == "auto" and X_fit.shape[1] >= 2 and settings.get("additive_terms", True):
        # An additive trial that came close: its misfit terms rediscovered, once the
        # additive stages (and those inserted before the hidden layers below) are
        # done; the spec is filled in from the pool when the stage comes.
        stages.insert(_before_hidden_stages(stages), [TrialSpec(2, "additive terms", (), None, int(stages[0][0].seed))])
    if transforms == "auto":
        screened = screened_trials(X_fit, y_fit, monomial, stages[0][0].seed)
        if screened:
            stages.insert(1, screened)
        product = product_groups(X_fit, y_fit, X_val, y_val, noise_level) if settings.get("products", True) else None
        divided_by = ()
        if not product and monomial and settings.get("products", True):
            # y over the monomial it is proportional to may be a product, or a product
            # plus a constant (n_0*(1 + p*E*cos(theta)/(k*T))) when y itself is not.
            fit_divisor, val_divisor = _monomial_values(X_fit, monomial), _monomial_values(X_val, monomial)
            level = quotient_noise_level(noise_level, fit_divisor)
            # The monomial's inputs are divided out: no factors of theirs (a spline
            # factor of n_0 over [0, 1] that should be constant misleads the fit).
            others = [i for i in range(X_fit.shape[1]) if i not in dict(monomial)]
            if len(others) >= 2:
                product = product_groups(X_fit, y_fit / fit_divisor, X_val, y_val / val_divisor, level, others)
                divided_by = monomial
        if product:
            # A product of splines fits: its factors are sub-problems of fewer inputs,
            # tried right after the additive models (which find products of one-signed
            # targets through log|y| at no extra cost) and the screened ones (a second
            # or so each, while a factor of two inputs is a discovery of its own:
            # m*c**2/sqrt(1 - v**2/c**2) took 54 s as a product, 1 s screened).
            groups, offset = product
            trial = TrialSpec(
                1, "products", (), None, int(stages[0][0].seed), monomial=divided_by, groups=groups, offset=offset
            )
            stages.insert(2 if screened else 1, [trial])
        if not product and X_fit.shape[1] >= 2 and settings.get("linear", True):
            # y linear in some inputs, with coefficients that are functions of one or
            # two others ((x - u*t)/sqrt(1 - u**2/c**2)): each coefficient is a
            # sub-problem of those one or two inputs.
            from ._coefficients import linear_structure, local_linear_structure, quadratic_structure

            X_a, y_a = _spread_rows(X_fit, y_fit, LINEAR_SCREEN_ROWS[0])
            X_b, y_b = _spread_rows(X_val, y_val, LINEAR_SCREEN_ROWS[1])
            z = linear_structure(
                np.vstack([X_a, X_b]), np.concatenate([y_a, y_b]), len(y_a), finite_level(noise_level) ** 2
            )
            if z is None:
                # Coefficients with a pole at the data's edge (1/sqrt(1 - u**2/c**2))
                # fit no polynomial: local fits judge the structure instead. Only
                # nearly exact local fits count (no noise variance): with noise, a
                # local residual within the noise accepts structures that are not
                # there, each a trial of sub-discoveries (development half, signed
                # ranges, noise 0.1: median 13.9 -> 18.5 s a law, no law gained); and
                # the noise estimated on exact data with a pole is no guide.
                z = local_linear_structure(X_fit, y_fit)
            transform = "linear"
            if z is None:
                # Or linear-fractional in them: (u + v)/(1 + u*v/c**2) is (g_0 + u*g_1)
                # over (1 + u*h_1), with coefficients of v and c.
                z = local_linear_structure(X_fit, y_fit, fractional=True)
                transform = "fractional"
            power = 1
            if z is None and X_fit.shape[1] <= QUADRATIC_MAX_INPUTS:
                # Or a quadratic polynomial in them, or its square root: the law of
                # cosines of signed lengths, sqrt(a**2 + b**2 - 2*a*b*cos(u - c)), has
                # no logarithm or monomial to separate its powers, but its square is
                # quadratic in a and b with coefficients of u and c.
                X_c, y_c = _spread_rows(X_fit, y_fit, QUADRATIC_SCREEN_ROWS[0])
                X_d, y_d = _spread_rows(X_val, y_val, QUADRATIC_SCREEN_ROWS[1])
                z, power = quadratic_structure(
                    np.vstack([X_c, X_d]), np.concatenate([y_c, y_d]), len(y_c), finite_level(noise_level)
                )
                transform = "quadratic"
            if z is not None:
                stages.insert(
                    _after_first_stage(stages),
                    [TrialSpec(1, transform, (), None, int(stages[0][0].seed), power=power, groups=(z,))],
                )
        if sign == 0 and settings.get("odd_factors", True):
            # y changes sign with one input x_i and y/x_i keeps one sign
            # (m_0*v/sqrt(1 - v**2/c**2)), or with a product of two: y/x_i is a
            # one-signed sub-problem on the real rows, tried after the additive and screened trials and before the
            # product's factors, which are splines' values (the product's factor
            # v/sqrt(1 - v**2/c**2) of m_0*v/sqrt(1 - v**2/c**2) is off by 4e-4 and
            # its sub-discovery fails in 22 s; y/v is exact in 4 s).
            from ._coefficients import odd_factors

            odd = [
                TrialSpec(1, "odd factor", (), None, int(stages[0][0].seed), monomial=tuple((i, 1) for i in factor))
                for factor in odd_factors(X_all, y_all, noise_level)
            ]
            if odd:
                stages.insert(2 if screened else 1, odd)
        group = index = None
        index_prefactor = ()
        if sign != 0 and settings.get("groups", True):
            # y a power product times a function of one or two other power products
            # of the inputs (n_0*exp(-m*g*x/(k_b*T))): f is a problem of one or two
            # inputs, whatever the number of inputs, so it goes before the other
            # sub-problems.
            from ._groups import power_group

            group = power_group(X_all, y_all, noise_level)
            if group is not None:
                trial = TrialSpec(
                    1, "group", (), None, int(stages[0][0].seed), monomial=group.prefactor, groups=group.groups
                )
                _insert_group_stage(stages, trial, screened, X_fit.shape[1])
        if (sign == 0 or group is None) and X_fit.shape[1] >= 2 and settings.get("groups", True):
            # y a function of one power product of the inputs, which log|y| hides where
            # y has zeros or changes sign (sin(2*pi*E*t/h)**2): the data sorted by the
            # product show it (skkan.discovery._single_index); f is a problem of one
            # input.
            from ._single_index import single_index

            index = single_index(X_all, y_all, noise_level)
            if index is None and monomial:
                # Or y over the monomial of positive inputs it is proportional to
                # (a**2*cos(b*x), x and b signed), which the power groups, on log|y|,
                # cannot split into signs. Confirmed to float precision only: within
                # the noise, the quotient of a partial monomial is smooth enough along
                # a near product (I.32.5 at noise 0.01, a*q/c**2 for a**2*q**2/c**3
                # over 1/epsilon: a stage of 27 s that found nothing).
                from ._single_index import quotient_index

                index = quotient_index(X_all, y_all, monomial)
                index_prefactor = monomial if index is not None else ()
        if index is not None:
            trial = TrialSpec(1, "index", (), None, int(stages[0][0].seed), monomial=index_prefactor, groups=(index,))
            _insert_group_stage(stages, trial, screened, X_fit.shape[1])
        if sign == 0 and X_fit.shape[1] >= 2 and settings.get("factors", True):
            # A signed product (r*F*sin(theta)) or a sum of products has no log target:
            # tables of a surrogate network's values find its tree of sums and
            # products (skkan.discovery._factors). It costs a network and a discovery
            # per leaf, so it runs after the first hidden-layer stage, which finds many
            # signed laws (x*y) in seconds.
            stages.insert(_first_hidden_stage(stages) + 1, [TrialSpec(3, "factors", (20,), None, int(stages[0][0].seed))])
        if X_fit.shape[1] >= 3 and settings.get("linear_terms", True):
            # A term linear in one input whose coefficient has few inputs, beside a
            # term of all the others (sqrt((p - q*A)**2*c**2 + m**2*c**4) + q*V): a
            # surrogate shows it, and the rest is a sub-problem of one input fewer on
            # the real rows (skkan.discovery._linear_term). A network and two
            # discoveries, so it goes after the first hidden-layer stage (and after
            # the tree of sums and products, which costs the same network).
            after = max(
                (k for k, stage in enumerate(stages) if stage[0].transform == "factors"),
                default=_first_hidden_stage(stages),
            )
            stages.insert(after + 1, [TrialSpec(3, "linear term", (20,), None, int(stages[0][0].seed))])
    log = []
    arguments = (X_fit, y_fit, X_val, y_val, symbols, {**settings, "noise_level": noise_level})
    # Relative held-out loss under which a trial's formula may reach the noise floor
    # (the floor's test allows a margin of about 20 %).
    variance = max(float(np.var(y_val)), 1e-300)
    within_reach = 2.0 * _noise_variance(noise_level, variance) / variance if noise_level is not None else 0.0
    progress = Progress(sum(len(stage) for stage in stages), verbose, description="discovery", unit="trial")
    for stage in stages:
        if stage[0].transform == "additive terms" and stage[0].refine is None:
            stage = _refinement_stage(pool)
            if not stage:
                continue
        if n_jobs is not None and n_jobs != 1 and len(stage) > 1:
            results = Parallel(n_jobs=n_jobs)(delayed(_run_trial_quietly)(spec, *arguments) for spec in stage)
        else:
            # One at a time, a trial that finds the law (exactly or to the noise floor)
            # ends its stage, as it ends discovery: the stage's other trials could only
            # add more such candidates (seen: four screened changes of variables, each
            # giving asin(lambd/(d*n)) after the first had).
            results = _sequential_until_found(stage, arguments, found, pool, within_reach)
        for spec, (candidates, n_iter, seconds) in zip(stage, results):
            best = min((c.loss for c in candidates), default=math.inf)
            log.append({"trial": spec.describe(), "seconds": seconds, "loss": best, "n_iter": n_iter})
            if verbose:
                final = candidates[-1].expression if candidates else "(failed)"
                progress.step(
                    f"[discovery] stage {spec.stage}: {spec.describe()}: {seconds:.1f} s, "
                    f"held-out loss {best:.3g}: {final}",
                    short=f"stage {spec.stage}, best loss {min(min((c.loss for c in pool), default=best), best):.3g}",
                )
            pool.extend(candidates)
        if found(pool):
            break
    progress.close()
    return pool, log


# Rows the product screen fits and holds out (evenly spread): the structure needs no
# more, and the cost of its search over groupings grows with the rows.
PRODUCT_SCREEN_ROWS = (800, 400)
# Rows the search for inputs y is linear in fits and holds out: its polynomial
# coefficients need three rows per column, and its cost grows with the rows.
LINEAR_SCREEN_ROWS = (1200, 400)
# Laws of at most this many inputs are searched for a quadratic structure (a degree-2
# polynomial in all but one or two inputs has many terms: with five inputs and two in
# z, 10 terms times the polynomials of z, each set a least-squares fit).
QUADRATIC_MAX_INPUTS = 5
# Rows the quadratic search fits and holds out: more than the linear one's, since its
# coefficients multiply more terms and need a higher degree for a whole period of a
# cosine (cos(u - c) over [0, 2*pi]**2: relative residual 1e-6 with degree 7 in each
# input, 4e-9 with 9, which needs 1,800 rows for 6 terms at 3 rows per column).
QUADRATIC_SCREEN_ROWS = (1800, 400)


def _insert_group_stage(stages, trial, screened, n_features):
    """Insert the stage of a power group's ``trial`` (transform ``"group"`` or ``"index"``)."""
    if n_features > 2:
        stages.insert(2 if screened else 1, [trial])
    else:
        # Of two inputs, the group saves one input only: it goes after the cheaper
        # structures (1 + n*a/(1 - n*a/3) is linear-fractional in a, exact in 0.5 s;
        # as a function of n*a, 96 s).
        stages.insert(_after_first_stage(stages), [trial])


def _before_hidden_stages(stages):
    """Where a stage goes to run before every hidden-layer stage (at the end if none)."""
    return next((k for k, stage in enumerate(stages) if stage[0].stage >= 3), len(stages))


def _first_hidden_stage(stages):
    """Index of the first stage of hidden-layer trials (the last stage if none)."""
    return next((k for k, stage in enumerate(stages) if stage[0].stage == 3), len(stages) - 1)


def _after_first_stage(stages):
    """Where a trial goes to run after every trial of stage 1 (structures included)."""
    return next((k for k, stage in enumerate(stages) if stage[0].stage > 1), len(stages))


def _spread_rows(X, y, n):
    """At most ``n`` rows of ``(X, y)``, evenly spread."""
    rows = np.linspace(0, len(y) - 1, min(n, len(y))).round().astype(int)
    return X[rows], y[rows]


def product_groups(X_fit, y_fit, X_val, y_val, noise_level, inputs=None):
    """The groups of a product of splines of ``inputs`` (None: all) that fits ``y`` (see
    :func:`skkan.discovery._products.product_structure`) and whether the product needs
    a constant added, or None."""
    from ._products import product_structure

    inputs = list(range(X_fit.shape[1])) if inputs is None else list(inputs)
    X_fit, X_val = X_fit[:, inputs], X_val[:, inputs]
    (X_a, y_a) = _spread_rows(X_fit, y_fit, PRODUCT_SCREEN_ROWS[0])
    (X_b, y_b) = _spread_rows(X_val, y_val, PRODUCT_SCREEN_ROWS[1])
    fit = product_structure(np.vstack([X_a, X_b]), np.concatenate([y_a, y_b]), len(y_a), finite_level(noise_level) ** 2)
    if fit is None:
        return None
    return tuple(tuple(inputs[i] for i in group) for group in fit.groups), fit.offset != 0.0


def _noise_variance(noise_level, variance):
    """The noise floor as a variance, never below float rounding of an exact fit."""
    return max(finite_level(noise_level) ** 2, LOSS_FLOOR * variance)


# A formula that reaches the noise floor stops discovery only if it has at most this
# many float constants more than the data have inputs: a network's raw formula with
# dozens of constants can fit noisy rows as well as the law does, and later stages may
# still find the law.
STOP_EXTRA_CONSTANTS = 3


def _formula_errors(equation, symbols, X_val, y_val, variance):
    """Held-out squared errors of a formula; infinite where sympy cannot evaluate it."""
    try:
        return squared_errors(equation, symbols, X_val, y_val, variance)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, AttributeError, NameError):
        return np.full(len(y_val), np.inf)


def _reaches_noise(pool, X_val, y_val, symbols, noise_level, n_noise_rows=NOISE_ROWS):
    """Whether a formula of the pool's Pareto front with few constants fits the held-out
    rows to the noise floor, and as well as the most accurate formula of the pool (a
    paired test on the same rows, far more sensitive than the comparison with an
    estimated floor; ``n_noise_rows``: the rows that estimated it)."""
    variance = max(float(np.var(y_val)), 1e-300)
    floor = _noise_variance(noise_level, variance)
    rows = pareto_table(pool)
    errors = {}

    def row_errors(k):
        if k not in errors:
            errors[k] = _formula_errors(rows[k]["equation"], symbols, X_val, y_val, variance)
        return errors[k]

    for k, row in enumerate(rows):
        if float_count(row["equation"]) > len(symbols) + STOP_EXTRA_CONSTANTS:
            continue
        if within_noise(row_errors(k), floor, n_noise_rows) and indistinguishable(row_errors(k), row_errors(len(rows) - 1)):
            return True
    return False


def noise_columns(rows, X_val, y_val, symbols, noise_level, n_noise_rows=NOISE_ROWS):
    """Held-out squared errors of every row of a table, its ``within_noise`` flags, and the noise level.

    The level reported is the smaller of ``noise_level`` (a smooth model's estimate,
    which errs upwards where that model underfits) and the held-out root mean squared
    error of the most accurate formula (an upper bound too); NaN estimates count as
    missing; ``n_noise_rows`` rows estimated ``noise_level``. Returns ``(errors, flags,
    level)``, ``errors`` one array per row.
    """
    variance = max(float(np.var(y_val)), 1e-300)
    errors = [_formula_errors(row["equation"], symbols, X_val, y_val, variance) for row in rows]
    best_mse = min((float(np.mean(e)) for e in errors), default=math.inf)
    estimates = [v for v in (noise_level, math.sqrt(best_mse) if math.isfinite(best_mse) else None)
                 if v is not None and math.isfinite(v)]
    level = min(estimates) if estimates else 0.0
    # Squared errors are floored at float rounding: an exact formula reports no noise.
    if level**2 <= LOSS_FLOOR * variance:
        level = 0.0
    floor = _noise_variance(level, variance)
    flags = [within_noise(e, floor, n_noise_rows) for e in errors]
    return errors, flags, float(level)


# A float literal as sympy prints it (2.5, 0.00217232824354962, 1.0e-5).
_FLOAT_LITERAL = re.compile(r"(?<![\w.])\d+\.\d*(?:e[-+]?\d+)?")


# The pool's Pareto front is built again after every trial (to test the noise floor),
# from the same formulas: their keys and prints are kept (seen: 5 s of 59 s a law).
@functools.lru_cache(maxsize=4096)
def _key(expression):
    """Identity of a formula up to float noise: its print with every float constant to 4
    significant digits (marked, so that ``2.0*x`` and ``2*x`` differ)."""
    return _FLOAT_LITERAL.sub(lambda match: f"{float(match.group()):.4g}f", _printed(expression))


@functools.lru_cache(maxsize=4096)
def _printed(expression):
    return str(expression)


def pareto_table(candidates, tie=0.0):
    """The Pareto front of the pool, simplest first, with PySR's score.

    For each complexity the candidate with the lowest (floored) held-out loss is
    kept if it beats every simpler one. ``score`` is ``-d log(loss) / d complexity``
    against the previous row (0 for the first). With ``tie > 0`` (noisy data), a
    candidate whose loss is within a factor ``1 + tie`` of the best of its complexity
    ties with it, and the one with the fewest float constants wins (``16/5*x`` over
    ``3.2014*x``: the held-out rows cannot tell them apart).

    Returns
    -------
    list of dict
        ``complexity``, ``loss``, ``score``, ``equation``, ``trial``,
        ``uncertainties`` (:func:`format_uncertainties`).
    """
    best_by_complexity = {}
    seen = set()
    for candidate in candidates:
        key = _key(candidate.expression)
        if key in seen:
            continue
        seen.add(key)
        # Among equals, exact constants beat floats, then a fixed order (not the
        # order in which trials happened to finish).
        rank = (max(candidate.loss, LOSS_FLOOR), float_count(candidate.expression), _printed(candidate.expression))
        current = best_by_complexity.get(candidate.complexity)
        if current is None or rank < current[0]:
            best_by_complexity[candidate.complexity] = (rank, candidate)
    if tie > 0:
        limits = {size: max(entry[1].loss, LOSS_FLOOR) * (1 + tie) for size, entry in best_by_complexity.items()}
        for candidate in candidates:
            current = best_by_complexity[candidate.complexity][1]
            fewer = float_count(candidate.expression) < float_count(current.expression)
            if fewer and max(candidate.loss, LOSS_FLOOR) <= limits[candidate.complexity]:
                best_by_complexity[candidate.complexity] = (None, candidate)
    rows = []
    for size in sorted(best_by_complexity):
        candidate = best_by_complexity[size][1]
        loss = max(candidate.loss, LOSS_FLOOR)
        if not math.isfinite(loss) or (rows and loss >= rows[-1]["loss"]):
            continue
        score = 0.0
        if rows:
            score = -(math.log(loss) - math.log(rows[-1]["loss"])) / (size - rows[-1]["complexity"])
        rows.append(
            {
                "complexity": size,
                "loss": loss,
                "score": score,
                "equation": candidate.expression,
                "trial": candidate.trial.describe(),
                "uncertainties": format_uncertainties(candidate.expression, candidate.uncertainties),
                # (value, standard error) of each float constant with a known error.
                "errors": np.array(
                    [(float(c), float(e)) for c, e in (candidate.uncertainties or {}).items() if e is not None],
                    dtype=np.float64,
                ).reshape(-1, 2),
            }
        )
    return rows


def format_uncertainties(expression, uncertainties):
    """The float constants of ``expression`` with their standard errors, as text.

    Each constant is printed to the digits its standard error supports (down to the
    second significant digit of the error): ``"3.1998 ± 0.0021, 2.0006 ± 0.00041"``;
    a constant the data do not determine shows ``± inf``, one without a known error
    ``± ?``. Constants in the order sympy prints them; ``""`` when there are none.
    """
    import sympy

    parts = []
    for constant in sorted(expression.atoms(sympy.Float), key=lambda f: str(expression).find(str(f))):
        value = float(constant)
        error = (uncertainties or {}).get(constant)
        if error is None or not math.isfinite(error):
            parts.append(f"{value:.6g} ± {'inf' if error is not None else '?'}")
            continue
        if error <= 0:
            parts.append(f"{value:.15g} ± 0")
            continue
        decimals = 1 - math.floor(math.log10(error))
        parts.append(f"{supported_digits(value, error):.{max(decimals, 0)}f} ± {error:.2g}")
    return ", ".join(parts)


def supported_digits(value, error):
    """``value`` rounded to the digits its standard error supports (down to the second
    significant digit of the error, as :func:`format_uncertainties` prints it); as it
    is when the error is unknown, infinite or zero."""
    if not (math.isfinite(error) and error > 0 and math.isfinite(value)):
        return value
    return round(value, 1 - math.floor(math.log10(error)))


def select_best(rows, rule="best", errors=None):
    """Index of the chosen row: ``"best"``, ``"accuracy"`` (lowest loss) or ``"score"``
    (highest score).

    ``"best"`` with ``errors`` (per-row held-out squared errors of every row, see
    :func:`noise_columns`) is the simplest row whose errors are statistically
    indistinguishable from those of the most accurate row (a one-sided paired test,
    :func:`skkan.discovery._noise.indistinguishable`): on noisy data a simpler formula
    whose extra error is within what the noise explains wins; when the most accurate
    row fits to float precision (a loss at the floor
    :data:`skkan.symbolic._simplify.LOSS_FLOOR`), the simplest such row. Without
    ``errors``, PySR's rule: the highest
    score among the rows within 1.5 times the lowest loss.
    """
    if not rows:
        raise ValueError("No formula was found.")
    losses = np.array([row["loss"] for row in rows])
    scores = np.array([row["score"] for row in rows])
    if rule == "accuracy":
        return int(np.argmin(losses))
    if rule == "score":
        return int(np.argmax(scores))
    if errors is not None:
        best = int(np.argmin(losses))
        if losses[best] <= LOSS_FLOOR:
            # The data are exact: only an exact formula matches (a paired test can pass
            # an approximation whose errors are a few large ones on a steep part).
            return next(k for k in range(best + 1) if losses[k] <= LOSS_FLOOR)
        return next(k for k in range(best + 1) if k == best or indistinguishable(errors[k], errors[best]))
    eligible = np.flatnonzero(losses <= 1.5 * losses.min())
    return int(eligible[np.argmax(scores[eligible])])
