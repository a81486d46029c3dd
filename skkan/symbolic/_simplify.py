"""Simplifying a formula against data (private; used by the discovery workflow).

A formula read off a network carries every constant the network learned: shifts of
``1e-4`` inside functions, coefficients of ``1.0002``, terms that cancel once expanded.
:func:`simplify_formula` turns it into the simplest expression that still fits:

1. polynomial parts are expanded and collected (``(x + y)**2 - (x - y)**2`` becomes
   ``4*x*y``), and ``exp`` of a sum of logarithms becomes a product of powers;
2. every numeric constant becomes a free parameter, refitted on the data by nonlinear
   least squares after every structural change;
3. greedily, a constant is set to zero (its term or shift disappears) or to a nearby
   simple number (an integer, a small rational, a rational multiple of pi or of
   ``sqrt(pi)``), as long as the validation error stays within a tolerance.

Each accepted step is recorded, so the caller gets a path of ever simpler formulas
with their held-out losses. Errors are relative mean squared errors (divided by the
variance of the target), floored at :data:`LOSS_FLOOR`: below it, differences are
float rounding, which differs between machines and must not decide anything.

Formulas are written as people write them (:func:`normalise_formula`): trigonometric
forms normalised (``sin(x)``, not ``1 - 2*cos(x/2 + pi/4)**2``) and rationals of more
than four digits written as floats. Sums whose large terms cancel
(``-8321.0*sin(x0) + 8321*sin(x0 + 0.00012*x1)``) are linearised in the small
constant (``0.99*x1*cos(x0)``, :func:`linearisations`), and sums scaled on a
negligible term rescaled (:func:`rescale_sums`); both are refitted and simplified in
turn. No formula of the path is more complex than the formula given.
"""

import functools
import math
import warnings

import numpy as np

__all__ = [
    "LOSS_FLOOR",
    "column_signs",
    "drop_column_abs",
    "drop_positive_abs",
    "absorb_root_constants",
    "absorb_root_monomials",
    "combine_logs",
    "combine_roots",
    "complexity",
    "evaluate",
    "expand_exactly",
    "float_count",
    "lambdify_inputs",
    "linearisations",
    "MAX_RATIONAL",
    "normalise_formula",
    "real_roots",
    "rescale_sums",
    "tame_rationals",
    "simplify_formula",
    "noise_tie",
    "plausible_snap",
    "standard_errors",
]

#: Relative MSE under which two formulas count as equally exact (float64 rounding of
#: a correct law sits around 1e-30; a learned approximation rarely below 1e-9).
LOSS_FLOOR = 1e-12

# Rows used to refit constants (more only cost time: the constants are few).
_FIT_ROWS = 400

# Residual evaluations of one refit (each Jacobian costs one per constant more).
_MAX_NFEV = 60

# A constant is snapped to a simple value only within this many standard errors of
# its fitted value (never to a "nice" number its data rule out), or within a relative
# 1e-6 of it (an exact law's constant to the refit's precision).
SNAP_STANDARD_ERRORS = 2.5
_SNAP_RELATIVE = 1e-6

# A term whose constant's confidence interval holds 0 is dropped when the held-out
# rows cannot tell the formula without it from the best so far: paired per-row test,
# one-sided at two standard errors, on at least this many held-out rows.
PAIRED_STANDARD_ERRORS = 2.0
_MIN_PAIRED_ROWS = 30
# A term dropped by the paired test costs the held-out loss at most this factor: it is
# meant for terms of the size of the noise, never for one whose loss jumps by orders.
_MAX_DROP_LOSS_RATIO = 2.0

# Formulas with more constants than this are not simplified step by step (only
# refitted): each step costs a refit per constant, and such a formula is far from any
# law anyway.
_MAX_GREEDY_CONSTANTS = 24

# Exact numbers with a numerator or denominator above this are written as floats
# (``1973191344649/4`` says nothing a float does not, in thirteen digits).
MAX_RATIONAL = 10**4

# Trigonometric rewriting (two of Fu's rules) is tried on formulas of at most this
# complexity: its cost grows with the size of the expression.
_TRIG_MAX_COMPLEXITY = 60
# Terms of a root's base above this complexity are not factored (absorb_root_monomials).
_FACTOR_MAX_COMPLEXITY = 40

# A sum cancels when its root mean square value on the data is below this fraction of
# that of its largest term (two large, nearly opposite terms).
_CANCELLATION = 1e-2

# Coefficient (in size) of a term large enough to cancel another.
_LARGE = 10.0

# Linearised or rescaled formulas simplified in turn, at most.
_MAX_ALTERNATIVES = 3

# Relative agreement (to the formula's largest value on the rows) of an exact rewriting.
_EQUIVALENCE = 1e-8


def complexity(expression):
    """Number of nodes of the expression tree (PySR's complexity).

    A constant counts as one node however it is written (``1/(4*pi)`` as much as
    ``0.0796``), and so do all the numeric factors of a product or terms of a sum.
    """
    if expression.is_number:
        return 1
    if expression.is_Mul or expression.is_Add:
        numeric = any(arg.is_number for arg in expression.args)
        return 1 + int(numeric) + sum(complexity(arg) for arg in expression.args if not arg.is_number)
    return 1 + sum(complexity(arg) for arg in expression.args)


def float_count(expression):
    """Number of float constants (exact numbers are preferred among equals)."""
    import sympy

    return len(expression.atoms(sympy.Float))


def _shadows(name):
    """Whether an argument named ``name`` would break or shadow names in lambdified code."""
    import builtins
    import keyword

    import sympy

    return not name.isidentifier() or keyword.iskeyword(name) or name in vars(builtins) or name in vars(np) or name in vars(sympy)


def lambdify_inputs(symbols, expression):
    """``sympy.lambdify`` over ``symbols`` that is safe for any symbol name.

    Feature names are kept as given (``exp``, ``petal length (cm)``): when one of them
    is not a plain identifier or is also a function's name (a numpy or sympy function,
    or a function of ``expression`` such as a ``spline_0_0_0`` placeholder), every
    argument is replaced
    by a dummy first, so the name neither breaks nor shadows the generated code.
    Ordinary names are left alone (the generated code is then the same as always).
    """
    import sympy

    functions = {str(f.func) for f in sympy.sympify(expression).atoms(sympy.Function)}
    dummify = any(_shadows(s.name) or s.name in functions for s in symbols)
    return sympy.lambdify(symbols, expression, modules="numpy", dummify=dummify)


def evaluate(expression, symbols, X):
    """Numeric values of ``expression`` at the rows of ``X`` (columns are ``symbols``)."""
    function = lambdify_inputs(symbols, expression)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.asarray(function(*np.asarray(X, dtype=np.float64).T), dtype=np.float64)
    return np.broadcast_to(values, (len(X),)).astype(np.float64, copy=True)


def _relative_loss(prediction, y, variance):
    with np.errstate(all="ignore"):
        loss = float(np.mean((prediction - y) ** 2) / variance)
    return loss if math.isfinite(loss) else math.inf


class _Parametrised:
    """An expression whose numeric constants are free parameters ``p0, p1, ...``."""

    def __init__(self, expression, symbols):
        import sympy

        self.symbols = list(symbols)
        self.parameters = []
        self.values = []

        def free(node):
            if not node.is_Float:
                return node
            parameter = sympy.Symbol(f"_p{len(self.parameters)}")
            self.parameters.append(parameter)
            self.values.append(float(node))
            return parameter

        self.template = _rewrite_bottom_up(expression, free)
        self.values = np.asarray(self.values, dtype=np.float64)
        self._function = lambdify_inputs(self.symbols + self.parameters, self.template)

    def __call__(self, X, values=None):
        values = self.values if values is None else values
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            output = self._function(*X.T, *values)
        output = np.asarray(output, dtype=np.float64)
        if output.shape != (len(X),):
            output = np.broadcast_to(output, (len(X),)).astype(np.float64, copy=True)
        return output

    def expression(self, values=None, fixed=None):
        """The expression with parameters replaced by ``values`` (``fixed``: exact numbers)."""
        import sympy

        values = self.values if values is None else values
        replacements = {p: sympy.Float(float(v)) for p, v in zip(self.parameters, values)}
        replacements.update(fixed or {})
        return self.template.xreplace(replacements)


def _refit(model, X, y, scale, free=None, start=None, max_nfev=None):
    """Least-squares refit of the free parameters; returns the new values."""
    from scipy.optimize import least_squares

    values = np.array(model.values if start is None else start, dtype=np.float64)
    free = np.arange(len(values)) if free is None else np.asarray(free, dtype=int)
    if len(free) == 0:
        return values

    def residual(theta):
        trial = values.copy()
        trial[free] = theta
        r = (model(X, trial) - y) / scale
        return np.nan_to_num(r, nan=1e8, posinf=1e8, neginf=-1e8)

    method = "lm" if len(y) > len(free) else "trf"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = least_squares(
                residual, values[free], method=method, x_scale="jac", max_nfev=max_nfev or _MAX_NFEV,
                xtol=1e-14, ftol=1e-14, gtol=1e-15,
            )
    except (ValueError, np.linalg.LinAlgError, OverflowError, ZeroDivisionError):
        return values
    refitted = values.copy()
    if np.all(np.isfinite(result.x)):
        refitted[free] = result.x
    # Keep the start if the refit made things worse (a bad local step).
    before = np.mean(residual(values[free]) ** 2)
    after = np.mean(residual(refitted[free]) ** 2)
    return refitted if after <= before else values


def noise_tie(n_rows):
    """Relative difference of two mean squared errors over ``n_rows`` rows that noise
    cannot tell apart: two standard deviations of a mean of ``n_rows`` squared Gaussian
    errors, ``2 * sqrt(2 / n_rows)``."""
    return 2.0 * math.sqrt(2.0 / max(n_rows, 1))


def standard_errors(model, X, y, scale, values=None):
    """Standard errors of the constants of ``model`` fitted by least squares on ``(X, y)``.

    ``cov = s**2 (J^T J)^-1`` with ``J`` the Jacobian of the residuals (central
    differences) and ``s**2`` their mean square over ``n - p`` degrees of freedom,
    floored at :data:`LOSS_FLOOR` (relative to ``scale**2``), below which residuals are
    float rounding. Constants the data do not determine (a redundant scale) get
    ``inf``. Returns an array with one standard error per constant.
    """
    values = np.array(model.values if values is None else values, dtype=np.float64)
    n, p = len(y), len(values)
    if p == 0:
        return np.zeros(0)
    residual = (model(X, values) - y) / scale
    if not np.all(np.isfinite(residual)):
        return np.full(p, np.inf)
    jacobian = np.empty((n, p))
    for k in range(p):
        step = 1e-6 * max(abs(values[k]), 1e-3)
        up, down = values.copy(), values.copy()
        up[k] += step
        down[k] -= step
        jacobian[:, k] = (model(X, up) - model(X, down)) / (2 * step * scale)
    if not np.all(np.isfinite(jacobian)):
        return np.full(p, np.inf)
    variance = max(float(np.sum(residual**2)) / max(n - p, 1), LOSS_FLOOR)
    with np.errstate(all="ignore"):
        normal = jacobian.T @ jacobian
    if not np.all(np.isfinite(normal)):
        return np.full(p, np.inf)  # a Jacobian too large to square: nothing is determined
    try:
        _, singular, rows = np.linalg.svd(normal)
    except np.linalg.LinAlgError:
        return np.full(p, np.inf)
    if not singular[0] > 0:
        return np.full(p, np.inf)
    kept = singular > 1e-12 * singular[0]
    with np.errstate(all="ignore"):  # a tiny singular value: an error of inf
        inverse = (rows[kept].T / singular[kept]) @ rows[kept]
        errors = np.sqrt(np.maximum(np.diag(inverse), 0) * variance)
    # Directions the data do not fix (a redundant scale): those constants are undetermined.
    if not np.all(kept):
        errors[np.abs(rows[~kept]).max(axis=0) > 1e-6] = np.inf
    return errors


def not_significantly_worse(errors, reference_errors, z=PAIRED_STANDARD_ERRORS, min_rows=_MIN_PAIRED_ROWS):
    """Whether the squared errors ``errors`` are not significantly larger than
    ``reference_errors`` on the same rows: one-sided paired test, the mean per-row
    difference at most ``z`` standard errors above 0; never on fewer than ``min_rows``
    rows or with a non-finite error.

    Pairing cancels the noise both formulas share, so this tells a term of the size of
    the noise from none far better than comparing the two mean losses."""
    errors = np.asarray(errors, dtype=np.float64)
    if len(errors) < min_rows or not np.all(np.isfinite(errors)):
        return False
    difference = errors - np.asarray(reference_errors, dtype=np.float64)
    mean = float(np.mean(difference))
    if mean <= 0:
        return True
    spread = float(np.std(difference, ddof=1)) if len(difference) > 1 else 0.0
    return bool(mean <= z * spread / math.sqrt(len(difference)))


def within_interval(option, value, error):
    """Whether the simple number ``option`` lies in the confidence interval of ``value``."""
    distance = abs(_number_value(option) - value)
    return distance <= SNAP_STANDARD_ERRORS * error or distance <= _SNAP_RELATIVE * abs(value)


# A simple number is taken for a constant only when it is unlikely to lie in the
# constant's confidence interval by coincidence: on noisy rows the interval of an
# intercept of 0.17 +- 0.02 holds 1/6, 1/(2*pi) and 1/(3*sqrt(pi)), and printing one
# of them claims what the data cannot tell. The simple numbers at least as simple as
# the candidate are counted within _COINCIDENCE_WINDOW half-widths of the interval on
# either side of the value; at most _MAX_COINCIDENT may lie there (the candidate
# itself and one more).
_COINCIDENCE_WINDOW = 5.0
_MAX_COINCIDENT = 2
# A window holding more rationals than this is evidence for none of them.
_MAX_COUNTED_RATIONALS = 2000
# The simple numbers :func:`_nice_values` offers: rationals of these denominators, and
# rational multiples and fractions of the bases with these denominators and numerators
# up to _MAX_BASE_NUMERATOR.
_DENOMINATORS = (1, 2, 3, 4, 5, 6, 8, 10, 12)
_BASE_DENOMINATORS = (1, 2, 3, 4, 6)
_MAX_BASE_NUMERATOR = 12


def _bases():
    """pi, sqrt(pi), sqrt(2*pi) and sqrt(2) (sympy numbers)."""
    import sympy

    return (sympy.pi, sympy.sqrt(sympy.pi), sympy.sqrt(2 * sympy.pi), sympy.sqrt(2))


# The simple numbers below are asked for thousands of times in one discovery (every
# constant of every simplification step), and each sympy product, float (an evalf)
# and printed length costs a fraction of a millisecond: they are made once.
_NUMBER_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_NUMBER_CACHE_SIZE)
def _number_value(number):
    """``float(number)`` of a sympy number (cached)."""
    return float(number)


@functools.lru_cache(maxsize=None)
def _base_values():
    """The floats of :func:`_bases`."""
    return tuple(float(base) for base in _bases())


@functools.lru_cache(maxsize=_NUMBER_CACHE_SIZE)
def _rational(numerator, denominator):
    """``sympy.Rational(numerator, denominator)`` (cached)."""
    import sympy

    return sympy.Rational(numerator, denominator)


@functools.lru_cache(maxsize=_NUMBER_CACHE_SIZE)
def _base_multiple(numerator, denominator, base_index, divide):
    """``numerator/denominator`` times (or over) the base ``base_index`` of :func:`_bases` (cached)."""
    base = _bases()[base_index]
    fraction = _rational(numerator, denominator)
    return fraction / base if divide else fraction * base


# The least niceness of a number of :func:`_base_numbers` (``pi``: 1 + 2 + 4); a
# candidate simpler than that counts none of them, and the table is not built.
_SIMPLEST_BASE_NICENESS = 7


@functools.lru_cache(maxsize=1)
def _base_numbers():
    """Every simple multiple or fraction of pi or a root :func:`_nice_values` offers, as
    sorted ``(value, niceness)`` arrays."""
    simplest = {}
    for base_index in range(len(_bases())):
        for denominator in _BASE_DENOMINATORS:
            for numerator in range(-_MAX_BASE_NUMERATOR, _MAX_BASE_NUMERATOR + 1):
                if numerator == 0:
                    continue
                for divide in (False, True):
                    number = _base_multiple(numerator, denominator, base_index, divide)
                    value = round(_number_value(number), 12)
                    simplest[value] = min(simplest.get(value, math.inf), _niceness(number))
    values = np.array(sorted(simplest))
    return values, np.array([simplest[v] for v in values])


def simple_numbers_near(option, value, error):
    """How many simple numbers (those :func:`_nice_values` offers), at least as simple as
    ``option``, lie within :data:`_COINCIDENCE_WINDOW` confidence half-widths of
    ``value`` (``option`` itself included when it lies there); ``math.inf`` when the
    window is too wide to count."""
    half_width = _COINCIDENCE_WINDOW * SNAP_STANDARD_ERRORS * float(error)
    if not math.isfinite(half_width):
        return math.inf
    low, high = value - half_width, value + half_width
    if (high - low) * max(_DENOMINATORS) > _MAX_COUNTED_RATIONALS:
        return math.inf
    limit = _niceness(option)
    # Every numerator over every denominator in the window, in lowest terms, counted
    # once each (a thousand per call: vectorised, as the call is frequent).
    numerators, denominators = [], []
    for denominator in _DENOMINATORS:
        span = np.arange(math.ceil(low * denominator), math.floor(high * denominator) + 1, dtype=np.int64)
        numerators.append(span)
        denominators.append(np.full(len(span), denominator, dtype=np.int64))
    numerators, denominators = np.concatenate(numerators), np.concatenate(denominators)
    divisors = np.gcd(numerators, denominators)
    numerators, denominators = numerators // divisors, denominators // divisors
    keep = (numerators != 0) & (np.abs(numerators) <= MAX_RATIONAL)
    numerators, denominators = numerators[keep], denominators[keep]
    found = np.unique(numerators * (max(_DENOMINATORS) + 1) + denominators)
    numerators, denominators = found // (max(_DENOMINATORS) + 1), found % (max(_DENOMINATORS) + 1)
    simple = _rational_niceness_array(numerators, denominators) <= limit
    if limit < _SIMPLEST_BASE_NICENESS:
        return int(np.count_nonzero(simple))
    values, niceness = _base_numbers()  # all irrational: none is also counted above
    inside = (values >= low) & (values <= high) & (niceness <= limit)
    return int(np.count_nonzero(simple)) + int(np.count_nonzero(inside))


def _digits(values):
    """Decimal digits of non-negative integers (at least one)."""
    return 1 + np.searchsorted(10 ** np.arange(1, 19, dtype=np.int64), values, side="right")


def _rational_niceness_array(numerators, denominators):
    """:func:`_niceness` of arrays of nonzero rationals ``numerators/denominators`` in
    lowest terms, without sympy: 1 for 1 and -1, else 1 plus the printed length
    (``-7/12``: 6)."""
    length = _digits(np.abs(numerators)) + (numerators < 0) + np.where(denominators == 1, 0, 1 + _digits(denominators))
    return np.where(np.abs(numerators) == denominators, 1, 1 + length)


def plausible_snap(option, value, error):
    """Whether ``option`` may stand for ``value``: inside its confidence interval, and
    not one of many equally simple numbers near it (:func:`simple_numbers_near`)."""
    if not within_interval(option, value, error):
        return False
    if abs(_number_value(option) - value) <= _SNAP_RELATIVE * abs(value):
        return True
    return simple_numbers_near(option, value, error) <= _MAX_COINCIDENT


def _nice_values(value):
    """Simple numbers near ``value``, simplest first (sympy numbers)."""
    if value == 0 or not math.isfinite(value):
        return []
    candidates = []
    for denominator in _DENOMINATORS:
        numerator = round(value * denominator)
        # Never a rational of more than four digits: a float says as much.
        if numerator != 0 and abs(numerator) <= MAX_RATIONAL:
            candidates.append(_rational(numerator, denominator))
    for base_index, base_value in enumerate(_base_values()):
        for denominator in _BASE_DENOMINATORS:
            numerator = round(value / base_value * denominator)
            if 0 < abs(numerator) <= _MAX_BASE_NUMERATOR:
                candidates.append(_base_multiple(numerator, denominator, base_index, False))
            numerator = round(value * base_value * denominator)
            if 0 < abs(numerator) <= _MAX_BASE_NUMERATOR:
                candidates.append(_base_multiple(numerator, denominator, base_index, True))
    seen, result = set(), []
    for candidate in candidates:
        number = _number_value(candidate)
        # Only what is close: a relative 2 % (the refit decides whether it really fits).
        if abs(number - value) > 0.02 * abs(value) or candidate in seen:
            continue
        seen.add(candidate)
        result.append(candidate)
    # Simplest first (an integer before a fraction before a multiple of pi): a caller
    # that takes the first one inside a confidence interval takes the simplest.
    result.sort(key=lambda c: (_niceness(c), abs(_number_value(c) - value)))
    return result[:6]


@functools.lru_cache(maxsize=_NUMBER_CACHE_SIZE)
def _niceness(number):
    """0 for zero, 1 for 1 and -1, then longer for less simple numbers; a rational
    before a multiple of pi or of a root (``16/5`` before ``pi`` when both are inside
    a constant's confidence interval: it takes fewer assumptions)."""
    if number == 0:
        return 0
    if abs(number) == 1:
        return 1
    return 1 + len(str(number)) + (0 if getattr(number, "is_Rational", False) else 4)


# Expansion is skipped when it would make more terms than this: expanding a product
# of powers of sums grows combinatorially (one network's formula of a six-input law
# ran for over 20 minutes in sympy's expand), and a result that large is never the
# shorter form that expansion is for.
MAX_EXPANDED_TERMS = 2000


def _expanded_terms(expression):
    """An upper bound on the number of terms ``expand`` makes, summed over every
    level of nesting (the arguments of functions are expanded too)."""
    import math

    if expression.is_Atom:
        return 1
    if expression.is_Add:
        return sum(_expanded_terms(arg) for arg in expression.args)
    if expression.is_Mul:
        return math.prod(_expanded_terms(arg) for arg in expression.args)
    if expression.is_Pow:
        base = _expanded_terms(expression.base)
        exponent = expression.exp
        if exponent.is_Integer and exponent > 1 and expression.base.is_Add:
            # Terms of a multinomial power: C(terms + n - 1, n).
            return math.comb(base + int(exponent) - 1, int(exponent))
        return base + _expanded_terms(exponent)
    return 1 + sum(_expanded_terms(arg) for arg in expression.args)  # a function: its arguments


def _expand(expression):
    """Polynomial parts expanded; ``exp`` of sums split so ``exp(a log x)`` becomes ``x**a``.

    ``expression`` itself when the expansion would exceed :data:`MAX_EXPANDED_TERMS`.
    """
    import sympy

    if _expanded_terms(expression) > MAX_EXPANDED_TERMS:
        return expression

    # The data are real: on symbols without assumptions, powsimp asks whether
    # tanh(expanded polynomial) is real through polynomial gcds of its imaginary part,
    # which took minutes and gigabytes on one network's formula (0.05 s on reals).
    reals = {symbol: sympy.Dummy(symbol.name, real=True) for symbol in expression.free_symbols}
    try:
        expanded = sympy.expand(expression.xreplace(reals), power_exp=True, log=False)
        combined = sympy.powsimp(expanded, combine="exp", deep=True)
    except (TypeError, ValueError, RecursionError, sympy.PolynomialError):
        return expression
    return combined.xreplace({dummy: symbol for symbol, dummy in reals.items()})


class SimplifiedFormula:
    """One formula of a simplification path, with its losses (relative MSE)."""

    __slots__ = ("expression", "complexity", "train_loss", "validation_loss", "uncertainties")

    def __init__(self, expression, train_loss, validation_loss, uncertainties=None):
        self.expression = expression
        self.complexity = complexity(expression)
        self.train_loss = train_loss
        self.validation_loss = validation_loss
        # Standard error of each float constant of ``expression`` (sympy.Float -> float).
        self.uncertainties = dict(uncertainties or {})

    def __repr__(self):
        return f"SimplifiedFormula({self.expression}, complexity={self.complexity}, validation_loss={self.validation_loss:.3g})"


def simplify_formula(expression, symbols, X_fit, y_fit, X_val, y_val, tolerance=1e-4, max_steps=60, random_state=0):
    """The path from ``expression`` to the simplest formula that still fits.

    Parameters
    ----------
    expression : sympy.Expr
        Formula in ``symbols``, with float constants.
    symbols : list of sympy.Symbol
        One per column of the data.
    X_fit, y_fit : ndarray
        Rows on which constants are refitted (at most 400 are used).
    X_val, y_val : ndarray
        Held-out rows that judge every step.
    tolerance : float, default=1e-4
        A step is accepted when the held-out root relative MSE grows by at most this
        much (a change of predictions below ``tolerance`` times the target's spread).
    max_steps : int, default=60
        Most simplification steps.

    Returns
    -------
    list of SimplifiedFormula
        Every accepted formula: the path from the expanded form (when expanding
        changes anything), then the path from ``expression`` itself, then those from
        linearised or rescaled forms (:func:`linearisations`, :func:`rescale_sums`),
        each from its refitted start to its simplest formula, written as by
        :func:`normalise_formula`. Formulas more complex than ``expression`` (an Abs
        guarding a root counted in both) are left out.
    """
    import sympy

    X_fit = np.asarray(X_fit, dtype=np.float64)
    y_fit = np.asarray(y_fit, dtype=np.float64)
    X_val = np.asarray(X_val, dtype=np.float64)
    y_val = np.asarray(y_val, dtype=np.float64)
    # Signs of the columns on every row given (before subsampling): the root rewrites
    # below rely on them.
    signs = column_signs(np.vstack([X_fit, X_val]))
    if len(X_fit) > _FIT_ROWS:
        rows = np.random.default_rng(random_state).choice(len(X_fit), _FIT_ROWS, replace=False)
        X_fit, y_fit = X_fit[np.sort(rows)], y_fit[np.sort(rows)]
    variance = float(np.var(np.concatenate([y_fit, y_val])))
    if not variance > 0:
        variance = max(float(np.mean(y_fit**2)), 1e-300)
    scale = math.sqrt(variance)

    def losses(model, values=None):
        train = _relative_loss(model(X_fit, values), y_fit, variance)
        validation = _relative_loss(model(X_val, values), y_val, variance)
        return train, validation

    def acceptable(new, current):
        return math.sqrt(max(new, LOSS_FLOOR)) <= math.sqrt(max(current, LOSS_FLOOR)) + tolerance

    # A constant snapped inside its confidence interval may cost held-out accuracy that
    # the noise cannot tell apart (two standard deviations of a mean of squares).
    lenient_factor = 1.0 + noise_tie(len(y_val))

    def lenient(new, current):
        return acceptable(new, current) or max(new, LOSS_FLOOR) <= max(current, LOSS_FLOOR) * lenient_factor

    def row_losses(model, values=None):
        with np.errstate(all="ignore"):
            return (model(X_val, values) - y_val) ** 2 / variance

    def start_from(candidate, max_constants=None):
        try:
            model = _Parametrised(candidate, symbols)
        except (TypeError, ValueError, SyntaxError, KeyError, NameError):
            return None
        if max_constants is not None and len(model.values) > max_constants:
            return None
        # A formula with many constants is far from a law: a short refit is enough.
        budget = _MAX_NFEV if len(model.values) <= _MAX_GREEDY_CONSTANTS else _MAX_NFEV // 3
        model.values = _refit(model, X_fit, y_fit, scale, max_nfev=budget)
        train, validation = losses(model)
        return model, train, validation

    moves_context = (symbols, X_fit, y_fit, scale, losses, acceptable, max_steps, lenient, row_losses)
    original = start_from(expression)
    if original is None:
        return []
    # Expanded forms cancel what the network spreads over several terms (a product
    # written as a difference of squares): simplify both forms, the expanded one first.
    expanded = _expand(original[0].expression())
    paths = []
    if expanded != original[0].expression():
        # Expanding a formula far from any law multiplies its terms: not worth it.
        n_constants = len(original[0].values)
        alternative = start_from(expanded, max_constants=max(n_constants + 4, int(1.5 * n_constants)))
        if alternative is not None:
            paths.append(_greedy(alternative, moves_context))
    paths.append(_greedy(original, moves_context))
    # Large terms that cancel (c*sin(x + e*g) - c*sin(x), an artefact of a fit) become
    # their first-order form in the small constant, simplified in turn; a sum whose
    # scale was fixed on a negligible term (x0**2 + 3.1e11*x0 + 4.8e11 in a
    # denominator) is divided by its largest coefficient, so that the term can go.
    alternatives = []
    ends = [step.expression for greedy_path in paths for step in (greedy_path[0], greedy_path[-1])]
    for end in dict.fromkeys(ends):
        for candidate in linearisations(end, symbols, X_fit) + [rescale_sums(end)]:
            if candidate not in alternatives and candidate not in ends and len(alternatives) < _MAX_ALTERNATIVES:
                alternatives.append(candidate)
    for candidate in alternatives:
        state = start_from(candidate)
        if state is not None:
            paths.append(_greedy(state, moves_context))
    path = [step for greedy_path in paths for step in greedy_path]
    # Nothing returned is more complex than what was given, with its roots guarded as
    # those of approximate formulas are below (at most one Abs node per root).
    roots = [node for node in sympy.preorder_traversal(expression) if _guardable_root(node)]
    bound = complexity(expression) + len(roots)
    X_check = X_val if len(X_val) else X_fit
    finished, normalised = [], {}
    for step in path:
        formula = absorb_root_constants(combine_logs(combine_roots(step.expression, symbols, signs), symbols, signs))
        formula = absorb_root_monomials(formula, symbols, signs)
        if not _cleaner(formula, step.expression):
            formula = step.expression
        if formula not in normalised:
            normalised[formula] = normalise_formula(formula, symbols, X_check)
        rewritten = normalised[formula]
        uncertainties = step.uncertainties
        if rewritten != formula and rewritten.atoms(sympy.Float) - formula.atoms(sympy.Float):
            # New constants (1.5*cos(x/2)**2 written 0.75*cos(x) + 0.75): their own errors.
            try:
                model = _Parametrised(rewritten, symbols)
                errors = standard_errors(model, X_fit, y_fit, scale)
                uncertainties = {sympy.Float(float(v)): float(e) for v, e in zip(model.values, errors)}
                rewritten = model.expression()
            except (TypeError, ValueError, SyntaxError, KeyError, NameError):
                rewritten = formula
        formula = rewritten
        # A formula exact to float precision keeps its own domain (the law's: m/sqrt(1 -
        # v**2/c**2) is undefined for v > c); an approximation's roots are guarded.
        if step.validation_loss > LOSS_FLOOR:
            formula = real_roots(formula, symbols, signs, X_check)
        formula = drop_column_abs(formula, symbols, signs)
        present = formula.atoms(sympy.Float)
        uncertainties = {f: e for f, e in uncertainties.items() if f in present}
        finished.append(SimplifiedFormula(formula, step.train_loss, step.validation_loss, uncertainties))
    kept = [step for step in finished if step.complexity <= bound]
    return kept or [min(finished, key=lambda step: step.complexity)]


def normalise_formula(expression, symbols, X):
    """``expression`` as people write it, with the same values on the rows of ``X``.

    Rationals with a numerator or denominator above :data:`MAX_RATIONAL` become
    floats; a formula with trigonometric functions is rewritten by Fu's rules TR8 and
    TR10i (``1 - 2*cos(x/2 + pi/4)**2`` is ``sin(x)``, ``2*sin(x)*cos(x)`` is
    ``sin(2*x)``, ``sin(a)*cos(b) + cos(a)*sin(b)`` is ``sin(a + b)``) when that is
    simpler. A rewriting is kept only if it is no more complex (then
    shorter in print) and equal on ``X`` to a relative ``1e-8`` of the formula's
    largest value (every row where ``expression`` is finite); otherwise ``expression``
    itself is returned.
    """
    import sympy

    tamed = tame_rationals(expression)
    if tamed != expression and not _equivalent(tamed, expression, symbols, X):
        tamed = expression
    if _nested_fractions(tamed) and complexity(tamed) <= _TRIG_MAX_COMPLEXITY:
        # A fraction inside a sum or a denominator, over one common denominator:
        # x0 - 2*x0/(2 + x1/x0) is x0*x1/(2*x0 + x1).
        try:
            candidate = tame_rationals(_over_one_denominator(tamed))
        except (TypeError, ValueError, AttributeError, RecursionError, sympy.PolynomialError):
            candidate = tamed
        if _simpler(candidate, tamed) and _equivalent(candidate, tamed, symbols, X):
            tamed = candidate
    products, halves = _trigonometric_products(tamed), _double_angle_cosines(tamed)
    if not (products or halves) or complexity(tamed) > _TRIG_MAX_COMPLEXITY:
        return tamed
    if tamed.atoms(sympy.core.function.AppliedUndef):
        return tamed  # placeholder functions (spline edges): nothing to rewrite
    # Two of Fu's rules, cheap at any size (fu itself took seconds on formulas of 40
    # nodes): products and powers of sines and cosines as sums (TR8: the square in
    # 1 - 2*cos(x/2 + pi/4)**2, sin(x)*cos(x)), and sums of products as one function
    # of a sum (TR10i: sin(a)*cos(b) + cos(a)*sin(b) is sin(a + b)). And the other
    # way, a cosine of a double angle as a square (1/2 - cos(4*pi*x)/2 is
    # sin(2*pi*x)**2), one cosine at a time.
    from sympy.simplify.fu import TR8, TR10i

    rewritten = []
    if products:
        for rule in (TR8, TR10i):
            try:
                rewritten.append(rule(tamed))
            except (TypeError, ValueError, AttributeError, RecursionError, sympy.PolynomialError):
                continue
    for cosine in halves:
        half = cosine.args[0] / 2
        for square in (1 - 2 * sympy.sin(half) ** 2, 2 * sympy.cos(half) ** 2 - 1):
            rewritten.append(tamed.xreplace({cosine: square}))
    best = tamed
    for candidate in rewritten:
        try:
            candidate = tame_rationals(candidate)
        except (TypeError, ValueError, AttributeError, RecursionError, sympy.PolynomialError):
            continue
        if _simpler(candidate, best) and _equivalent(candidate, tamed, symbols, X):
            best = candidate
    return best


def _double_angle_cosines(expression):
    """The cosines of ``expression`` whose argument has an even integer coefficient
    (``cos(4*pi*x)``, ``cos(2*x*y)``): what may be written as a square of a sine or
    cosine of half the argument."""
    import sympy

    found = []
    for node in sympy.preorder_traversal(expression):
        if isinstance(node, sympy.cos):
            coefficient, _ = node.args[0].as_coeff_Mul()
            if coefficient.is_Integer and coefficient % 2 == 0:
                found.append(node)
    return found


# A formula with more float constants than this is not brought over one denominator.
_MAX_COMBINED_FLOATS = 8


def _over_one_denominator(expression):
    """The fractions of ``expression`` over one common denominator
    (``sympy.together``), every float constant held as a symbol.

    ``sympy.cancel`` did this with polynomial gcds: on formulas of discovery trials
    they ran for over 20 minutes, first over exact rationals of 16-digit floats, then,
    with the floats as symbols, over a dozen symbols. ``together`` takes no gcd of
    polynomials, only of terms. A formula with more than :data:`_MAX_COMBINED_FLOATS`
    floats is returned as it is.
    """
    import sympy

    floats = sorted(expression.atoms(sympy.Float), key=float)
    if len(floats) > _MAX_COMBINED_FLOATS:
        return expression
    held = {value: sympy.Dummy(f"c{k}") for k, value in enumerate(floats)}
    combined = sympy.together(expression.xreplace(held))
    return combined.xreplace({dummy: value for value, dummy in held.items()})


def _nested_fractions(expression):
    """Whether a fraction sits inside a denominator, or a fraction over a sum sits
    beside other terms of a sum: what :func:`sympy.cancel` may bring over one
    denominator (``x0 - 2*x0/(2 + x1/x0)``)."""
    import sympy

    def reciprocal(node):
        return isinstance(node, sympy.Pow) and node.exp.is_negative

    for node in sympy.preorder_traversal(expression):
        if reciprocal(node) and any(reciprocal(part) for part in sympy.preorder_traversal(node.base) if part is not node):
            return True
        if node.is_Add and any(reciprocal(f) and f.base.is_Add for term in node.args for f in sympy.Mul.make_args(term)):
            return True
    return False


def _trigonometric_products(expression):
    """Whether ``expression`` has a power of a sine or cosine, or a product of two of
    them: what Fu's rules TR8 and TR10i rewrite."""
    import sympy

    def trigonometric(node):
        return isinstance(node, (sympy.sin, sympy.cos))

    for node in sympy.preorder_traversal(expression):
        if node.is_Pow and trigonometric(node.base) and node.exp.is_Integer:
            return True
        if node.is_Mul and sum(trigonometric(f) or (f.is_Pow and trigonometric(f.base)) for f in node.args) >= 2:
            return True
    return False


def _simpler(candidate, expression):
    """Fewer nodes, or as many and fewer float constants or a shorter print."""
    key = lambda e: (complexity(e), float_count(e), len(str(e)))  # noqa: E731
    return candidate != expression and key(candidate) < key(expression)


def _equivalent(candidate, expression, symbols, X):
    """Whether ``candidate`` equals ``expression`` on the rows of ``X`` (see
    :data:`_EQUIVALENCE`): finite wherever ``expression`` is."""
    import sympy

    if len(X) == 0 or candidate.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return False
    try:
        reference = evaluate(expression, symbols, X)
        values = evaluate(candidate, symbols, X)
    except (TypeError, ValueError, SyntaxError, KeyError, NameError, ZeroDivisionError, OverflowError):
        return False
    finite = np.isfinite(reference)
    if not finite.any() or not np.all(np.isfinite(values[finite])):
        return False
    size = float(np.max(np.abs(reference[finite])))
    return bool(np.max(np.abs(values[finite] - reference[finite])) <= _EQUIVALENCE * max(size, 1e-300))


def tame_rationals(expression):
    """Integers and rationals with a numerator or denominator above :data:`MAX_RATIONAL`
    written as floats (``1973191344649/4`` as ``493297836162.25``)."""
    import sympy

    def tame(node):
        if node.is_Rational and (abs(node.p) > MAX_RATIONAL or node.q > MAX_RATIONAL):
            return sympy.Float(float(node))
        return node

    if not any(abs(r.p) > MAX_RATIONAL or r.q > MAX_RATIONAL for r in expression.atoms(sympy.Rational)):
        return expression
    return _rewrite_bottom_up(expression, tame)


def rescale_sums(expression):
    """Sums raised to an integer power, with a float coefficient above
    :data:`MAX_RATIONAL` in size, divided by their largest coefficient (the power of
    that coefficient taken out): ``1.97e12/(x0**2 + 3.1e11*x0 + 4.8e11)`` is
    ``6.32/(3.2e-12*x0**2 + x0 + 1.53)``, whose negligible term a refit can drop.
    The value is the same; ``expression`` itself when there is nothing to rescale."""
    import sympy

    def rescale(node):
        if not (node.is_Pow and node.base.is_Add and node.exp.is_Integer):
            return node
        coefficients = [term.as_coeff_Mul()[0] for term in node.base.args]
        largest = max(coefficients, key=lambda c: abs(float(c)))
        if not (largest.is_Float and abs(float(largest)) > MAX_RATIONAL):
            return node
        scale = sympy.Float(abs(float(largest)))
        terms = [
            sympy.Float(float(c) / float(scale)) * term.as_coeff_Mul()[1]
            for c, term in zip(coefficients, node.base.args)
        ]
        return scale**node.exp * sympy.Pow(sympy.Add(*terms), node.exp)

    if not any(abs(float(f)) > MAX_RATIONAL for f in expression.atoms(sympy.Float)):
        return expression
    return _rewrite_bottom_up(expression, rescale)


def linearisations(expression, symbols, X):
    """First-order forms of ``expression`` where large terms of a sum cancel on ``X``.

    A fit can write a small effect as the difference of two large, nearly equal terms
    (``-8320.9999*sin(x0) + 8321*sin(x0 + 0.00012*cot(x1))`` is ``cos(x0)*cot(x1)`` to
    first order). A sum cancels when two of its terms have coefficients of at least
    ``_LARGE`` in size and its root mean square value on the rows of ``X`` is below
    :data:`_CANCELLATION` times that of its largest term. Each float constant
    ``e`` of such a sum gives a candidate ``f(0) + e*f'(0)``, ``f`` the expression as
    a function of ``e``, kept when it is less complex than ``expression``; its
    constants are to be refitted. Returns the candidates, simplest first.
    """
    import sympy

    floats = expression.atoms(sympy.Float)
    if not floats or complexity(expression) > 4 * _TRIG_MAX_COMPLEXITY:
        return []
    cancelling = []
    for node in sympy.preorder_traversal(expression):
        if not node.is_Add or not node.atoms(sympy.Float):
            continue
        terms = [term for term in node.args if term.free_symbols]
        # Large terms: two of them with coefficients of at least _LARGE in size.
        if sum(abs(float(term.as_coeff_Mul()[0])) >= _LARGE for term in terms) < 2:
            continue
        try:
            values = [evaluate(term, symbols, X) for term in terms]
        except (TypeError, ValueError, SyntaxError, KeyError, NameError, ZeroDivisionError, OverflowError):
            continue
        if not all(np.all(np.isfinite(v)) for v in values):
            continue
        total = np.sum(values, axis=0)
        largest = max(float(np.sqrt(np.mean(v**2))) for v in values)
        if largest > 0 and float(np.sqrt(np.mean(total**2))) < _CANCELLATION * largest:
            cancelling.extend(f for f in node.atoms(sympy.Float) if f not in cancelling)
    candidates = []
    size = complexity(expression)
    for constant in cancelling:
        parameter = sympy.Dummy("e")
        # Every occurrence of this value is the parameter (one constant written twice).
        template = expression.xreplace({constant: parameter})
        try:
            start = template.xreplace({parameter: sympy.Integer(0)})
            slope = sympy.diff(template, parameter).xreplace({parameter: sympy.Integer(0)})
            candidate = _expand(start + constant * slope)
        except (TypeError, ValueError, AttributeError, RecursionError, sympy.PolynomialError):
            continue
        candidate = tame_rationals(candidate)
        if candidate.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) or not candidate.free_symbols:
            continue
        if complexity(candidate) < size and candidate not in candidates:
            candidates.append(candidate)
    return sorted(candidates, key=complexity)


def column_signs(X):
    """Per column: ``"positive"`` (all > 0), ``"nonnegative"`` (all >= 0) or ``"real"``."""
    return ["positive" if np.all(column > 0) else "nonnegative" if np.all(column >= 0) else "real" for column in X.T]


def _rewrite_bottom_up(expression, rewrite):
    """``rewrite`` applied to every node, children first, left to right (each node is
    rebuilt from its rewritten children)."""
    args = tuple(_rewrite_bottom_up(arg, rewrite) for arg in expression.args)
    if args != expression.args:
        expression = expression.func(*args)
    return rewrite(expression)


def _sign_dummies(symbols, signs):
    import sympy

    return {symbol: sympy.Dummy(symbol.name, **{sign: True}) for symbol, sign in zip(symbols, signs)}


def combine_roots(expression, symbols, signs):
    """Roots of one power in a product merged into one root of the expanded product.

    ``sqrt(a)*sqrt(b)*sqrt(c)`` is ``sqrt(a*b*c)`` when all bases but at most one are
    nonnegative, which sympy proves from ``signs`` (see :func:`column_signs`) of the
    columns; the merged base is expanded, so a monomial times a sum read back from a
    network (``sqrt(x1)*sqrt(x2)*sqrt(x1/x2 - 2*cos(t) + x2/x1)``) becomes the law's
    ``sqrt(x1**2 - 2*x1*x2*cos(t) + x2**2)``. Roots of opposite powers merge into the
    root of a quotient when the denominator's base is positive: ``sqrt(g*p)/sqrt(rho)``
    is ``sqrt(g*p/rho)``. The value is the same everywhere.
    """
    import sympy

    if not expression.has(sympy.Pow):
        return expression
    dummies = _sign_dummies(symbols, signs)

    def nonnegative(base):
        return base.xreplace(dummies).is_nonnegative is True

    def positive(base):
        return base.xreplace(dummies).is_positive is True

    def merge(node):
        if not node.is_Mul:
            return node
        roots = {}
        for factor in node.args:
            if factor.is_Pow and factor.exp.is_Rational and not factor.exp.is_integer and not factor.base.is_number:
                roots.setdefault(abs(factor.exp), []).append(factor)
        for exponent, factors in roots.items():
            if len(factors) < 2 or sum(not nonnegative(factor.base) for factor in factors) > 1:
                continue
            if all(factor.exp < 0 for factor in factors):
                exponent = -exponent  # 1/(sqrt(a)*sqrt(b)) is 1/sqrt(a*b)
            elif any(factor.exp < 0 and not positive(factor.base) for factor in factors):
                continue  # a quotient's root needs a denominator that is never 0
            others = [factor for factor in node.args if factor not in factors]
            # sqrt(a)/sqrt(b) is sqrt(a/b): a base under a root of the other sign divides.
            merged_base = sympy.Mul(*(factor.base ** (1 if factor.exp * exponent > 0 else -1) for factor in factors))
            node = sympy.Mul(*others, sympy.Pow(sympy.expand(merged_base), exponent))
            if not node.is_Mul:
                break
        return node

    return _rewrite_bottom_up(expression, merge)


def _inexact_numbers(expression):
    """Floats, named constants and irrational powers of numbers (``sqrt(2)``) in
    ``expression``, each occurrence counted."""
    import sympy

    return sum(
        1
        for node in sympy.preorder_traversal(expression)
        if node.is_Float or node.is_NumberSymbol
        or (node.is_Pow and node.is_number and node.base.is_Rational and not node.exp.is_integer)
    )


def _cleaner(candidate, expression):
    """No more nodes, inexact numbers (:func:`_inexact_numbers`) or function calls,
    and fewer of one of them."""
    import sympy

    if candidate == expression:
        return False

    def counts(e):
        calls = sum(1 for node in sympy.preorder_traversal(e) if isinstance(node, sympy.Function))
        return complexity(e), _inexact_numbers(e), calls

    new, old = counts(candidate), counts(expression)
    return all(a <= b for a, b in zip(new, old)) and new != old


def combine_logs(expression, symbols, signs):
    """Logarithms of positive bases in one sum written as one logarithm.

    ``log(V2) - log(V1)`` is ``log(V2/V1)`` and ``log(a) + 2*log(b)`` is
    ``log(a*b**2)`` when sympy proves every base positive from ``signs`` (see
    :func:`column_signs`) of the columns: the value is the same wherever the formula
    is defined. Only logarithms with integer coefficients are combined, and only two
    or more of them; a sum is rewritten only where the result has no more nodes.
    """
    import sympy

    if not expression.has(sympy.log):
        return expression
    dummies = _sign_dummies(symbols, signs)

    def merge(node):
        if not node.is_Add:
            return node
        logs, others = [], []
        for term in node.args:
            coefficient, rest = term.as_coeff_Mul()
            if (isinstance(rest, sympy.log) and coefficient.is_Integer
                    and rest.args[0].xreplace(dummies).is_positive is True):
                logs.append((int(coefficient), rest.args[0]))
            else:
                others.append(term)
        if len(logs) < 2:
            return node
        combined = sympy.Add(*others, sympy.log(sympy.Mul(*(base**power for power, base in logs))))
        return combined if _cleaner(combined, node) else node

    return _rewrite_bottom_up(expression, merge)


def absorb_root_constants(expression):
    """A positive number multiplying the root of a sum taken under the root.

    ``sqrt(2)*sqrt(a*b + 1/2)`` is ``sqrt(2*a*b + 1)``: the number's power is
    multiplied into the (expanded) sum. The value is the same everywhere (the number is
    positive); a product is rewritten only where the result is cleaner: no more nodes
    and no more inexact numbers, fewer of one (``sqrt(2)*(y + 1/2)**(3/2)`` keeps
    its form, which needs no ``2**(1/3)``).
    """
    import sympy

    if not expression.has(sympy.Pow):
        return expression

    def absorb(node):
        if not node.is_Mul:
            return node
        coefficient, rest = node.as_coeff_Mul()
        sign = -1 if coefficient.is_negative else 1
        factors = sympy.Mul.make_args(rest)
        numbers = [f for f in factors if f.is_number]
        magnitude = abs(coefficient) * sympy.Mul(*numbers)
        if magnitude == 1 or not magnitude.is_positive:
            return node
        roots = [f for f in factors if f.is_Pow and f.base.is_Add and f.exp.is_Rational and not f.exp.is_integer]
        if len(roots) != 1:
            return node
        root = roots[0]
        others = [f for f in factors if f is not root and not f.is_number]
        base = sympy.expand(magnitude ** (1 / root.exp) * root.base)
        candidate = sign * sympy.Mul(*others) * sympy.Pow(base, root.exp)
        return candidate if _cleaner(candidate, node) else node

    return _rewrite_bottom_up(expression, absorb)


def absorb_root_monomials(expression, symbols, signs):
    """Powers of positive inputs multiplying the root of a sum taken under the root.

    ``x1*sqrt(x0**2/x1**2 + 1)`` is ``sqrt(x0**2 + x1**2)`` when ``x1`` is positive,
    which sympy proves from ``signs`` (see :func:`column_signs`) of the columns: a
    sub-problem solved over ratios of inputs (a power group) reads back with the
    ratios' powers spread over the root's terms, and the expanded product is how the
    law is written; where expanding would multiply terms, the factor is spread over
    the root's terms and each is factored (``q*sqrt((p/q - 1)**2 + m**2/q**2)`` is
    ``sqrt((p - q)**2 + m**2)``). Only factors of the numerator go under a root of the numerator
    (a denominator's ``c**2`` stays where the law may have it). The value is the same
    wherever the formula is defined; a product is rewritten only where the result is
    cleaner (see :func:`_cleaner`), so ``x0*sqrt(x1 + 1)`` keeps its form.
    """
    import sympy

    if not expression.has(sympy.Pow):
        return expression
    dummies = _sign_dummies(symbols, signs)

    def movable(factor):
        if factor.is_number or (factor.is_Pow and not factor.exp.is_positive):
            return False
        return factor.xreplace(dummies).is_positive is True

    def absorb(node):
        if not node.is_Mul:
            return node
        roots = [
            f for f in node.args
            if f.is_Pow and f.base.is_Add and f.exp.is_Rational and f.exp.is_positive and not f.exp.is_integer
        ]
        if len(roots) != 1:
            return node
        root = roots[0]
        moved = [f for f in node.args if f is not root and movable(f)]
        if not moved:
            return node
        others = [f for f in node.args if f is not root and f not in moved]
        factor = sympy.Mul(*moved) ** (1 / root.exp)
        # Two forms of the new base: expanded, and the factor spread over the base's
        # terms with each term factored (c**2*(A*q - p)**2 for a term A**2*c**2*q**2 *
        # (p/(A*q) - 1)**2, where expanding would multiply terms).
        bases = [sympy.expand(factor * root.base)]
        terms = sympy.Add.make_args(root.base)
        # Factoring is for rational terms (products of powers): on the exp of a cubic
        # inside a sine, an approximation's term, sympy's factor raised MemoryError
        # (converting its floats to huge rationals), which ended the fit.
        if all(not term.atoms(sympy.Function) and complexity(term) <= _FACTOR_MAX_COMPLEXITY for term in terms):
            try:
                bases.append(sympy.Add(*(sympy.factor(factor * term) for term in terms)))
            except (sympy.PolynomialError, TypeError, ValueError, RecursionError, MemoryError):
                pass
        best = node
        for base in bases:
            candidate = sympy.Mul(*others) * sympy.Pow(base, root.exp)
            if _cleaner(candidate, best):
                best = candidate
        return best

    return _rewrite_bottom_up(expression, absorb)


def real_roots(expression, symbols, signs, X=None):
    """``expression`` with ``Abs`` around every root's argument not provably nonnegative.

    An approximate formula fitted on the data takes roots (``sqrt``, ``x**1.03``) of
    arguments that are nonnegative on every row seen, often by a thin margin (``y**2``
    fitted near ``y = 0``), and may dip below zero on a new row. ``Abs`` changes
    nothing where the argument is nonnegative, so the formula keeps its fit and stays
    real everywhere. Where sympy proves the argument nonnegative, from ``signs`` (see
    :func:`column_signs`) of the columns, the formula is left as it is.
    :func:`simplify_formula` guards its approximate formulas only: one that fits to
    float precision is the law, and keeps the law's domain.

    Given the rows ``X``, a formula without float constants (every constant snapped)
    also keeps a root whose argument is nonnegative on every row and on a box around
    them three times as wide (:func:`_nonnegative_around`): there is no thin margin
    to guard, as in ``sqrt(a**2 + b**2 - 2*a*b*cos(t))``, which sympy cannot prove.
    """
    import sympy

    if not expression.has(sympy.Pow):
        return expression
    dummies = _sign_dummies(symbols, signs)
    exact_form = X is not None and len(X) > 0 and not expression.atoms(sympy.Float)

    def guard(node):
        if _guardable_root(node):
            if node.base.xreplace(dummies).is_nonnegative is True:
                return node
            if exact_form and _nonnegative_around(node.base, symbols, signs, X):
                return node
            return sympy.Pow(sympy.Abs(node.base), node.exp)
        return node

    return _rewrite_bottom_up(expression, guard)


# Points of the box around the rows on which a root's argument must be nonnegative
# (besides the rows themselves) to go unguarded, and the box's width relative to the
# rows' range.
_BOX_POINTS = 4096
_BOX_WIDTH = 3.0


def _nonnegative_around(base, symbols, signs, X, random_state=0):
    """Whether ``base`` is finite and nonnegative on every row of ``X`` and on random
    points of a box :data:`_BOX_WIDTH` times as wide as the rows' range around its
    centre (a column of one sign keeps its sign: its box starts at 0)."""
    X = np.asarray(X, dtype=np.float64)
    low, high = X.min(axis=0), X.max(axis=0)
    centre, half = (low + high) / 2, _BOX_WIDTH * np.maximum(high - low, 1e-12) / 2
    box_low, box_high = centre - half, centre + half
    one_signed = np.array([sign != "real" for sign in signs])
    box_low = np.where(one_signed, np.maximum(box_low, 0.0), box_low)
    rng = np.random.default_rng(random_state)
    points = rng.uniform(box_low, box_high, size=(_BOX_POINTS, X.shape[1]))
    values = np.concatenate([evaluate(base, symbols, X), evaluate(base, symbols, points)])
    return bool(np.all(np.isfinite(values)) and np.all(values >= 0))


def drop_column_abs(expression, symbols, signs):
    """``expression`` with ``Abs(x)`` written ``x`` for every column ``x`` that is
    nonnegative on every row (see :func:`column_signs`).

    Sympy writes ``(c**2)**(3/2)`` of a real ``c`` as ``Abs(c)**3``; over data where
    ``c > 0`` that is ``c**3``, as people write it, with the same values. Likewise
    ``sqrt(c**2)``, which sympy leaves as it is for a symbol without assumptions, is
    ``c`` (sympy's own evaluation with the column's sign assumed).
    """
    import sympy

    unsigned = [(symbol, sign) for symbol, sign in zip(symbols, signs) if sign in ("positive", "nonnegative")]
    if not unsigned:
        return expression
    if expression.has(sympy.Abs):
        columns = {symbol for symbol, _ in unsigned}
        expression = expression.replace(lambda node: isinstance(node, sympy.Abs) and node.args[0] in columns,
                                        lambda node: node.args[0])
    if expression.has(sympy.Pow):
        dummies = {symbol: sympy.Dummy(symbol.name, **{sign: True}) for symbol, sign in unsigned}
        back = {dummy: symbol for symbol, dummy in dummies.items()}

        def power_of_power(node):
            # Only a power of a power of a column: elsewhere the sign would also split
            # roots of products (sqrt(a*b) into sqrt(a)*sqrt(b)).
            if node.is_Pow and node.base.is_Pow and node.base.base in dummies:
                return node.xreplace(dummies).xreplace(back)
            return node

        expression = _rewrite_bottom_up(expression, power_of_power)
    return expression


def drop_positive_abs(expression, symbols, X):
    """``expression`` with every ``Abs(e)`` written ``e`` where ``e`` is positive on
    every row of ``X``.

    Formulas fitted on smooth sub-problems (the coefficients or factors of a law)
    come with their roots guarded (:func:`real_roots`), ``sqrt(Abs(1 - v**2/c**2))``;
    once the law they compose is simplified against the real rows, that guard is
    decided again there (an exact formula keeps the law's domain), so the
    sub-problems' guards are lifted first wherever they change nothing on the data.
    """
    import sympy

    if not expression.has(sympy.Abs):
        return expression
    X = np.asarray(X, dtype=np.float64)

    def positive(argument):
        try:
            with np.errstate(all="ignore"):
                values = np.broadcast_to(lambdify_inputs(symbols, argument)(*X.T), (len(X),))
            return bool(np.all(np.isfinite(values)) and np.all(values > 0))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
            return False

    return expression.replace(lambda node: isinstance(node, sympy.Abs) and positive(node.args[0]),
                              lambda node: node.args[0])


def _guardable_root(node):
    """Whether ``node`` is a root :func:`real_roots` may guard (a power of an expression
    in the inputs with a non-integer exponent)."""
    return node.is_Pow and node.exp.is_number and not node.exp.is_integer and not node.base.is_number


def _greedy(state, context):
    """Accepted steps from ``state`` (a refitted model and its losses) on."""
    import sympy

    symbols, X_fit, y_fit, scale, losses, acceptable, max_steps, lenient, row_losses = context
    model, train, validation = state

    def step_of(model, train, validation, errors):
        floats = {sympy.Float(float(v)): float(e) for v, e in zip(model.values, errors)}
        return SimplifiedFormula(model.expression(), train, validation, floats)

    errors = standard_errors(model, X_fit, y_fit, scale)
    path = [step_of(model, train, validation, errors)]
    reference = validation
    if len(model.values) > _MAX_GREEDY_CONSTANTS:
        return path
    # Held-out squared errors of the best formula so far, for the paired test that
    # drops terms the data cannot tell from none.
    reference_rows = row_losses(model)

    def insignificant(k, loss):
        # An undetermined constant (a redundant scale, error inf) has every value in
        # its interval, which says nothing about 0; and a loss many times the
        # reference is a pole or a lost term whose few huge rows defeat the paired
        # test's normal approximation (a constant of an exact rational set to 0:
        # loss 1e-31 -> 2e9, passed as "not significantly worse").
        if not math.isfinite(errors[k]) or not within_interval(0, model.values[k], errors[k]):
            return False
        if not loss <= _MAX_DROP_LOSS_RATIO * max(reference, LOSS_FLOOR):
            return False
        without = model.values.copy()
        without[k] = 0.0
        return not_significantly_worse(row_losses(model, without), reference_rows)
    for _ in range(max_steps):
        moves = []
        for k, value in enumerate(model.values):
            # 0 removes a term; 1 and -1 remove a redundant scale (c * sqrt(a * x**2)
            # needs only one of c, a), which a refit of the others makes up for.
            options = [sympy.Integer(0)] + [v for v in (sympy.Integer(1), sympy.Integer(-1)) if v * value > 0]
            structural = len(options)
            # A simple value only inside the constant's confidence interval.
            options += [v for v in _nice_values(value) if v not in options and plausible_snap(v, value, errors[k])]
            for rank, option in enumerate(options):
                trial = model.values.copy()
                trial[k] = float(option)
                moves.append((k, option, losses(model, trial)[1], rank >= structural))
        if not moves:
            break
        # Zero first (it removes the most), then 1 or -1, then the simplest nice value.
        # Cheap checks without refitting decide most steps; a few moves of each kind
        # may refit the other constants (a redundant scale moves into the others).
        # On noisy data a term may also go when 0 is inside its constant's confidence
        # interval and the held-out rows cannot tell the difference (the refitted
        # constant of a spurious term is noise, and by chance costs more than the
        # tolerance: g*m*z - 0.00101*g*z at 10 % noise).
        passing_zero = [m for m in moves if m[1] == 0 and acceptable(m[2], reference)]
        dropped_by_test = False
        if not passing_zero:
            passing_zero = [m for m in moves if m[1] == 0 and math.isfinite(m[2]) and insignificant(m[0], m[2])]
            dropped_by_test = bool(passing_zero)
        chosen, fixed_values = None, None
        if passing_zero:
            chosen = min(passing_zero, key=lambda m: m[2])
        else:
            budget = {0: 2, 1: 3, 2: 1}
            queue = sorted((m for m in moves if math.isfinite(m[2])), key=lambda m: (_niceness(m[1]), m[2]))
            for k, option, loss, snap in queue:
                # 1 and -1 are simple values too: inside the interval, the same leniency.
                snap = snap or (option != 0 and within_interval(option, model.values[k], errors[k]))
                accept = lenient if snap else acceptable
                if accept(loss, reference):
                    chosen = (k, option, None, snap)
                    break
                kind = min(_niceness(option), 2)
                if budget[kind] <= 0:
                    continue
                budget[kind] -= 1
                start = model.values.copy()
                start[k] = float(option)
                free = [i for i in range(len(start)) if i != k]
                refitted = _refit(model, X_fit, y_fit, scale, free=free, start=start, max_nfev=20)
                if accept(losses(model, refitted)[1], reference):
                    chosen, fixed_values = (k, option, None, snap), refitted
                    break
        if chosen is None:
            break
        k, option, _, snap = chosen
        values = model.values if fixed_values is None else fixed_values
        simpler = model.expression(values, fixed={model.parameters[k]: option})
        try:
            next_model = _Parametrised(simpler, symbols)
        except (TypeError, ValueError, SyntaxError, KeyError, NameError):
            break
        if len(next_model.values):
            next_model.values = _refit(next_model, X_fit, y_fit, scale)
        train, validation = losses(next_model)
        if not (lenient if snap else acceptable)(validation, reference) and not (
            dropped_by_test
            and validation <= _MAX_DROP_LOSS_RATIO * max(reference, LOSS_FLOOR)
            and not_significantly_worse(row_losses(next_model), reference_rows)
        ):
            break
        model = next_model
        if validation < reference:
            reference, reference_rows = validation, row_losses(model)
        errors = standard_errors(model, X_fit, y_fit, scale)
        path.append(step_of(model, train, validation, errors))
    # Exact rewriting can still shorten the result: x**2/2 + y**2/2 - (x - y)**2/2 is x*y.
    final = path[-1].expression
    expanded = _expand(final)
    if expanded != final and complexity(expanded) < complexity(final):
        rewritten = _Parametrised(expanded, symbols)
        floats = dict(zip((sympy.Float(float(v)) for v in rewritten.values),
                          standard_errors(rewritten, X_fit, y_fit, scale).tolist()))
        path.append(SimplifiedFormula(expanded, *losses(rewritten), floats))
    return path


def expand_exactly(expression, symbols, X, precision):
    """``expression`` expanded and collected when that is shorter and equal at ``precision``.

    No constant is refitted: polynomial parts are expanded (``(x + y)**2 - (x - y)**2``
    becomes ``4*x*y``) and terms below ``0.5 * 10**-precision`` of the largest value of
    the expression over the rows of ``X`` are dropped; the result is kept only if it is
    simpler and stays within that tolerance of ``expression`` on ``X``. Anything that
    fails to evaluate keeps ``expression``.
    """
    import sympy

    if precision is None or len(X) == 0 or expression.atoms(sympy.core.function.AppliedUndef):
        return expression
    expanded = _expand(expression)
    if expanded == expression:
        return expression
    reference = evaluate(expression, symbols, X)
    scale = float(np.max(np.abs(reference))) if np.all(np.isfinite(reference)) else 0.0
    if not scale > 0:
        return expression
    tolerance = 0.5 * 10.0 ** (-precision) * scale
    terms = sympy.Add.make_args(expanded)
    kept = [term for term in terms if np.max(np.abs(evaluate(term, symbols, X))) > tolerance]
    candidate = sympy.Add(*kept)
    from ._formula import round_floats

    candidate = round_floats(candidate, precision)
    if complexity(candidate) >= complexity(expression):
        return expression
    if not np.max(np.abs(evaluate(candidate, symbols, X) - reference)) <= 2 * tolerance:
        return expression
    return candidate
