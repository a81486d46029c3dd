"""Formula discovery on Feynman laws: skkan's KANSymbolicRegressor against gplearn.

Run ``python benchmarks/discovery.py [--laws N] [--seeds S ...] [--no-gplearn]
[--only {skkan,gplearn}] [--out FILE]``. For every law of :data:`feynman.LAWS` (the
first ``N`` with ``--laws N``) and every seed, 2,000 training rows are drawn uniformly
on the law's AI Feynman ranges with ``numpy.random.default_rng([seed, crc32(name)])``
and 2,000 fresh test rows after them from the same generator, with no noise. Each
method fits the training rows and hands back one SymPy formula:

* skkan: ``KANSymbolicRegressor(random_state=seed, n_jobs=2).fit(X, y).get_formula()`` (only the
  public estimator; ``X`` is a DataFrame, so the formula's symbols carry the column
  names);
* gplearn: ``SymbolicRegressor`` (:func:`make_gplearn`), its best program converted
  to SymPy by :func:`gplearn_to_sympy`: protected ``div``, ``log``, ``sqrt``, ``inv``
  become the plain functions, except where the protection acts on the training rows
  (``sqrt``/``log`` of an argument that goes negative become ``sqrt(Abs(.))``/
  ``log(Abs(.))``) or on constants (folded to gplearn's value), so the formula is
  gplearn's program on the data.

The KAN paper's toy ``exp(sin(pi x0) + x1**2)`` is run too, once per ``--toy-seeds``
seed (0..9 by default), by every method that runs (gplearn's function set has no
``exp``, so it cannot be exact there).

Metrics, all computed from the formula alone on the test rows:

``time``
    Seconds for ``fit`` plus the call that returns the formula.
``closed``
    The formula has no undefined function (no ``AppliedUndef`` atom such as skkan's
    ``spline_*`` placeholders for edges that did not snap to a closed form).
``R2``
    Test R^2 of the formula evaluated with ``sympy.lambdify`` (numpy) on the test rows,
    not of ``predict``; ``nan`` when the formula is not closed or gives a non-finite
    or complex value on some row.
``ops``
    ``sympy.count_ops(formula)``, shown beside ``count_ops`` of the law.
``compact``
    ``closed and R2 >= 0.9999 and ops <= 2 * law_ops + 6``.
``exact``
    The formula *is* the law once numbers are read to 3 significant digits:

    1. every number of the formula and of the law is evaluated to a float
       (``evalf``, so ``1/(4*pi)`` becomes ``0.0795...``), rounded to 3 significant
       digits and replaced by that decimal as an exact rational (``0.0796`` ->
       ``199/2500``, ``2.00`` -> ``2``). Rounding *both* sides makes pi-bearing
       constants comparable and float exponents such as ``x**2.0000003`` integral;
    2. terms of the formula's top-level sum whose largest magnitude on the test rows
       is under ``1e-4 * rms(y)`` are dropped (leftovers below the 3-digit resolution
       of the output);
    3. cheap filter: the rounded formula must match the rounded law on every test
       row to 1 % relative (else not exact, no symbolic work);
    4. both sides get symbols with ``positive=True`` where the variable's range is
       positive (so ``sqrt(x**2) == x`` on the sampled domain), and the formula is
       exact when ``simplify(formula - law) == 0``; or, for a constant factor that the
       formula spreads differently from the law (``exp(-0.919 - x**2/2)`` against
       ``0.399*exp(-x**2/2)``, equal only up to the rounding of each piece), when
       ``simplify(formula / law)`` is a number within ``5e-4`` of 1: half the smallest
       relative gap between two different 3-digit constants (9.98 against 9.99), so a
       wrong third digit (``0.0797`` for ``1/(4*pi)``) is never exact. A
       simplification running past ``--timeout`` seconds counts as not exact.

    This is SRBench's "symbolic solution" check (formula - law or formula / law a
    constant) with the constant required to be 0 or 1 at 3-digit precision.

Prints a table per law and a summary (for each method: compact-exact, closed with
R^2 >= 0.99 and exact counts, median and max time per law), and writes a Markdown
report (by default into the discovery section of ``benchmarks/RESULTS.md``, keeping
the other sections; or to ``--out``, overwritten unless ``--append``) with the tables, the summary, the machine line and the command. A method
that is switched off (``--no-gplearn``, ``--only``) or not installed (gplearn) shows
``n/a``. skkan's estimator is imported only when skkan runs; if the installed skkan
has no ``KANSymbolicRegressor`` the script stops with a message saying so.
"""

import argparse
import contextlib
import os
import platform
import re
import signal
import statistics
import sys
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402
from feynman import LAWS, TOY, law_expression, sample  # noqa: E402

METHODS = ("skkan", "gplearn")
N_TRAIN = 2000
N_TEST = 2000
R2_COMPACT = 0.9999
R2_CLOSE = 0.99
DIGITS = 3
NEGLIGIBLE = 1e-4  # a term under NEGLIGIBLE * rms(y) on every test row is dropped
FILTER_RTOL = 1e-2
EXACT_RTOL = 5e-4  # half the smallest gap (1e-3, at 9.99 vs 9.98) between 3-digit constants
GPLEARN_FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "sin", "cos", "neg", "inv")


# --------------------------------------------------------------------------- methods


def load_skkan():
    """Return ``skkan.KANSymbolicRegressor``, or exit with a message saying it is missing.

    Returns
    -------
    type
        The estimator class.
    """
    try:
        import skkan
    except ImportError as exc:
        raise SystemExit(f"discovery.py: cannot import skkan ({exc}); install the project first") from exc
    try:
        return skkan.KANSymbolicRegressor
    except AttributeError:
        raise SystemExit(
            f"discovery.py: skkan {getattr(skkan, '__version__', '?')} at {Path(skkan.__file__).parent} has no "
            "KANSymbolicRegressor yet; run with --only gplearn to benchmark gplearn alone"
        ) from None


def load_gplearn():
    """Return gplearn's ``SymbolicRegressor`` class, or ``None`` when it cannot be used.

    Returns
    -------
    type or None
        The estimator class; ``None`` (with a message on stderr) when gplearn is not
        installed or fails to import with the installed scikit-learn.
    """
    try:
        from gplearn.genetic import SymbolicRegressor
    except Exception as exc:  # ImportError, or an incompatible scikit-learn
        print(f"gplearn unavailable ({type(exc).__name__}: {exc}); its columns say n/a", file=sys.stderr)
        return None
    return SymbolicRegressor


def make_gplearn(regressor_class, seed, population_size=1000, generations=20):
    """gplearn's ``SymbolicRegressor`` with settings suited to these laws.

    Parameters
    ----------
    regressor_class : type
        ``gplearn.genetic.SymbolicRegressor``.
    seed : int
        ``random_state``.
    population_size : int, default=1000
        Programs per generation.
    generations : int, default=20
        Generations at most (the run stops early once the mean absolute training
        error is under ``1e-9``).

    Returns
    -------
    SymbolicRegressor
        Unfitted estimator: the function set of :data:`GPLEARN_FUNCTIONS`, tournaments
        of 20, parsimony coefficient 0.001, constants in [-1, 1], one job.
    """
    return regressor_class(
        population_size=population_size,
        generations=generations,
        tournament_size=20,
        stopping_criteria=1e-9,
        const_range=(-1.0, 1.0),
        init_depth=(2, 6),
        function_set=GPLEARN_FUNCTIONS,
        metric="mean absolute error",
        parsimony_coefficient=0.001,
        p_crossover=0.7,
        p_subtree_mutation=0.1,
        p_hoist_mutation=0.05,
        p_point_mutation=0.1,
        max_samples=1.0,
        random_state=seed,
        n_jobs=1,
    )


def _protected_div(a, b):
    return np.where(np.abs(b) > 0.001, np.divide(a, b), 1.0)


def _protected_inv(a):
    return np.where(np.abs(a) > 0.001, np.divide(1.0, a), 0.0)


def _protected_log(a):
    return np.where(np.abs(a) > 0.001, np.log(np.abs(a)), 0.0)


# gplearn's functions, as gplearn computes them (gplearn.functions)
_GPLEARN_NUMPY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _protected_div,
    "sqrt": lambda a: np.sqrt(np.abs(a)),
    "log": _protected_log,
    "abs": np.abs,
    "neg": np.negative,
    "inv": _protected_inv,
    "max": np.maximum,
    "min": np.minimum,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
}
# their plain SymPy counterparts
_GPLEARN_TO_SYMPY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sqrt": sympy.sqrt,
    "log": sympy.log,
    "abs": sympy.Abs,
    "neg": lambda a: -a,
    "inv": lambda a: 1 / a,
    "max": sympy.Max,
    "min": sympy.Min,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
}
_ARITY = {name: (2 if name in ("add", "sub", "mul", "div", "max", "min") else 1) for name in _GPLEARN_TO_SYMPY}
_TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)\(|([A-Za-z_]\w*)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([,)]))")


def _tokens_from_string(text, names):
    """Prefix tokens (function names, feature indices, floats) of a gplearn program string."""
    index = {name: i for i, name in enumerate(names)}
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot parse gplearn program at {text[position:position + 20]!r}")
        function, terminal, number, _punctuation = match.groups()
        if function is not None:
            tokens.append(function)
        elif terminal is not None:
            if terminal in index:
                tokens.append(index[terminal])
            elif re.fullmatch(r"X\d+", terminal):
                tokens.append(int(terminal[1:]))
            else:
                raise ValueError(f"unknown terminal {terminal!r} in gplearn program")
        elif number is not None:
            tokens.append(float(number))
        position = match.end()
    return tokens


def gplearn_to_sympy(program, names, X=None):
    """Convert a gplearn program to a SymPy expression.

    Parameters
    ----------
    program : list or str or gplearn ``_Program``
        The program as gplearn's prefix list (``est._program.program``: functions with
        ``.name``, ``int`` feature indices, ``float`` constants), as its string
        (``str(est._program)``, such as ``"add(X0, mul(X1, 0.500))"``, constants at 3
        decimals; feature names are accepted in place of ``X<i>``), or the
        ``_Program`` itself.
    names : sequence of str
        Feature names: feature ``i`` becomes ``sympy.Symbol(names[i])``.
    X : array-like of shape (n_rows, n_features), optional
        Rows the program was fitted on (see below).

    Returns
    -------
    sympy.Expr
        The formula. gplearn's protected functions map to the plain ones: ``div(a, b)``
        -> ``a/b``, ``inv(a)`` -> ``1/a``, ``log(a)`` -> ``log(a)``, ``sqrt(a)`` ->
        ``sqrt(a)``. gplearn's own are ``sqrt|a|`` and ``log|a|`` (0 for
        ``|a| <= 0.001``), and ``div``/``inv`` give 1/0 for denominators within 0.001
        of 0. Two exceptions keep the formula equal to gplearn's program: a subtree
        without features is folded to the number gplearn computes (``log(-0.5)`` ->
        ``-0.693``, not a complex number; ``div(a, 0.0)`` -> ``1``), and, when ``X`` is given, ``sqrt``/``log``
        whose argument is negative (``log``: or zero) on some row of ``X`` keep the
        protection as ``sqrt(Abs(a))``/``log(Abs(a))`` (gplearn's ``sqrt(neg(x))`` is
        ``sqrt(x)`` on positive data).
    """
    if hasattr(program, "program"):
        program = program.program
    if isinstance(program, str):
        tokens = _tokens_from_string(program, names)
    else:
        tokens = [getattr(node, "name", node) for node in program]
    symbols = [sympy.Symbol(name) for name in names]
    columns = None if X is None else np.asarray(X, dtype=float).T
    stream = iter(tokens)

    def build():
        """The next subtree as ``(expression, values on X or None)``."""
        token = next(stream)
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            return symbols[int(token)], None if columns is None else columns[int(token)]
        if not isinstance(token, str):
            return sympy.Float(float(token)), None if columns is None else np.float64(token)
        if token not in _GPLEARN_TO_SYMPY:
            raise ValueError(f"gplearn function {token!r} has no SymPy counterpart here")
        args, values = zip(*(build() for _ in range(_ARITY[token])))
        with np.errstate(all="ignore"):
            if all(arg.is_number for arg in args):  # constant subtree: gplearn's own value
                number = _GPLEARN_NUMPY[token](*(np.float64(float(arg)) for arg in args))
                return sympy.Float(float(number)), None if columns is None else number
            result = None if columns is None else _GPLEARN_NUMPY[token](*values)
            (arg, *_), (value, *_) = args, values
            if token == "div" and args[1].is_number and abs(float(args[1])) <= 0.001:
                return sympy.Integer(1), result  # gplearn's div by a constant near 0
            if token in ("sqrt", "log") and value is not None and np.any(value < 0 if token == "sqrt" else value <= 0):
                return _GPLEARN_TO_SYMPY[token](sympy.Abs(arg)), result
        return _GPLEARN_TO_SYMPY[token](*args), result

    expression, _ = build()
    if next(stream, None) is not None:
        raise ValueError("gplearn program has trailing tokens")
    return expression


def fit_skkan(X, y, seed):
    """Fit ``KANSymbolicRegressor`` and return ``(formula, seconds)``."""
    estimator = load_skkan()(random_state=seed, n_jobs=2)
    start = time.perf_counter()
    estimator.fit(X, y)
    formula = estimator.get_formula()
    return sympy.sympify(formula), time.perf_counter() - start


def fit_gplearn(X, y, seed, population_size, generations):
    """Fit gplearn's ``SymbolicRegressor`` and return ``(formula, seconds)``."""
    estimator = make_gplearn(load_gplearn(), seed, population_size, generations)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow inside candidate programs
        estimator.fit(X.to_numpy(), y)
    formula = gplearn_to_sympy(estimator._program, list(X.columns), X.to_numpy())
    return formula, time.perf_counter() - start


# --------------------------------------------------------------------------- metrics


def _plain(expression):
    """The expression with every symbol replaced by a plain ``Symbol`` of the same name."""
    return expression.xreplace({s: sympy.Symbol(s.name) for s in expression.free_symbols})


def is_closed(expression):
    """Whether the expression has no undefined function (such as ``spline_3(x)``)."""
    return not expression.atoms(AppliedUndef)


def evaluate(expression, X):
    """Evaluate an expression on the rows of a DataFrame with ``sympy.lambdify``.

    Parameters
    ----------
    expression : sympy.Expr
        Closed expression in symbols named after ``X``'s columns.
    X : pandas.DataFrame
        The rows.

    Returns
    -------
    numpy.ndarray of shape (n_rows,)
        Float values; ``nan`` where the value is not finite or not real, and everywhere
        when the expression cannot be evaluated.
    """
    n_rows = len(X)
    symbols = [sympy.Symbol(name) for name in X.columns]
    unknown = {s.name for s in expression.free_symbols} - set(X.columns)
    if unknown:
        return np.full(n_rows, np.nan)
    try:
        function = sympy.lambdify(symbols, expression, modules="numpy")
        with np.errstate(all="ignore"):
            values = np.asarray(function(*(X[name].to_numpy() for name in X.columns)))
    except Exception:
        return np.full(n_rows, np.nan)
    values = np.broadcast_to(values, (n_rows,))
    if np.iscomplexobj(values):
        values = np.where(np.abs(values.imag) <= 1e-12 * (1 + np.abs(values.real)), values.real, np.nan)
    values = values.astype(float, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def r2_score(y, prediction):
    """R^2 of ``prediction`` against ``y``; ``nan`` if any prediction is ``nan``."""
    if np.isnan(prediction).any():
        return float("nan")
    return float(1 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))


def round_numbers(expression, digits=DIGITS):
    """Every number of the expression, evaluated and rounded to ``digits`` significant digits.

    Parameters
    ----------
    expression : sympy.Expr
        The expression.
    digits : int, default=3
        Significant digits.

    Returns
    -------
    sympy.Expr
        The expression after ``evalf`` (constants such as ``pi`` included, also inside
        functions) with each float replaced by the exact rational of its rounded decimal
        (``0.0795775`` -> ``199/2500``, ``2.0`` -> ``2``).
    """
    expression = sympy.sympify(expression)
    constants = {c: sympy.Float(c.evalf()) for c in expression.atoms(sympy.NumberSymbol)}  # pi inside sin(pi*x)
    numeric = expression.xreplace(constants).evalf()
    return numeric.xreplace({f: sympy.Rational(f"{float(f):.{digits}g}") for f in numeric.atoms(sympy.Float)})


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise :class:`_Timeout` in the block after ``seconds`` (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM") or seconds is None:
        yield
        return

    def handler(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _negligible(term, X, bound):
    """Whether ``term`` stays under ``bound`` in magnitude on every row of ``X``."""
    values = evaluate(term, X)
    return bool(not np.isnan(values).any() and np.max(np.abs(values)) < bound)


def is_exact(formula, law, ranges, X, y, timeout=30.0):
    """Whether the formula is the law once numbers are read to 3 significant digits.

    Parameters
    ----------
    formula : sympy.Expr
        Closed formula in plain symbols named after ``X``'s columns.
    law : sympy.Expr
        The law, in the same plain symbols.
    ranges : dict of str to (float, float)
        The variables' sampling ranges: a variable with a positive range is treated as
        positive in the symbolic comparison.
    X : pandas.DataFrame
        Test rows.
    y : numpy.ndarray
        The law's values on ``X``.
    timeout : float, default=30.0
        Seconds allowed for the symbolic simplification.

    Returns
    -------
    bool
        See the module docstring for the four steps.
    """
    scale = float(np.sqrt(np.mean(y**2)))
    candidate = round_numbers(formula)
    target = round_numbers(law)
    if isinstance(candidate, sympy.Add):
        kept = [term for term in candidate.args if not _negligible(term, X, NEGLIGIBLE * scale)]
        candidate = sympy.Add(*kept)
    predicted, expected = evaluate(candidate, X), evaluate(target, X)
    if np.isnan(predicted).any() or np.isnan(expected).any():
        return False
    if np.max(np.abs(predicted - expected) / (np.abs(expected) + 1e-3 * scale)) > FILTER_RTOL:
        return False
    positive = {
        sympy.Symbol(name): sympy.Symbol(name, positive=True) for name, (low, _high) in ranges.items() if low > 0
    }
    candidate, target = candidate.xreplace(positive), target.xreplace(positive)
    try:
        with _time_limit(timeout):
            if sympy.simplify(candidate - target) == 0:
                return True
            ratio = sympy.simplify(candidate / target)
            return bool(ratio.is_number and abs(complex(ratio) - 1) <= EXACT_RTOL)
    except (_Timeout, TypeError, ValueError):
        return False


@dataclass
class Result:
    """One method on one law and seed."""

    method: str
    law: str
    seed: int
    law_ops: int
    time_s: float = float("nan")
    formula: object = None
    closed: bool = False
    r2: float = float("nan")
    ops: int = -1
    compact: bool = False
    exact: bool = False
    error: str = ""
    extra: dict = field(default_factory=dict)


def score(result, formula, law, X_test, y_test, timeout):
    """Fill the metrics of ``result`` from the formula (see the module docstring)."""
    formula = _plain(sympy.sympify(formula))
    law_expr = law_expression(law)
    result.formula = formula
    result.closed = is_closed(formula)
    result.ops = int(sympy.count_ops(formula))
    if result.closed:
        result.r2 = r2_score(y_test, evaluate(formula, X_test))
        result.compact = bool(result.r2 >= R2_COMPACT and result.ops <= 2 * result.law_ops + 6)
        result.exact = is_exact(formula, law_expr, law.ranges, X_test, y_test, timeout)
    return result


def run_one(method, law, seed, args):
    """Sample a law's rows, fit one method and score its formula.

    Parameters
    ----------
    method : {"skkan", "gplearn"}
        The method.
    law : feynman.Law
        The law.
    seed : int
        Seed of the data and of the method.
    args : argparse.Namespace
        Command-line settings (gplearn's population and generations, the timeout).

    Returns
    -------
    Result
        The metrics; on an exception inside the method, ``error`` holds it.
    """
    rng = np.random.default_rng([seed, zlib.crc32(law.name.encode())])
    X, y = sample(law, N_TRAIN, rng)
    X_test, y_test = sample(law, N_TEST, rng)
    result = Result(method, law.name, seed, int(sympy.count_ops(law_expression(law))))
    try:
        if method == "skkan":
            formula, result.time_s = fit_skkan(X, y, seed)
        else:
            formula, result.time_s = fit_gplearn(X, y, seed, args.gp_population, args.gp_generations)
    except Exception as exc:  # one failing fit must not end the benchmark
        result.error = f"{type(exc).__name__}: {exc}"
        print(f"  {method} on {law.name} (seed {seed}) failed: {result.error}", file=sys.stderr)
        return result
    return score(result, formula, law, X_test, y_test, args.timeout)


# --------------------------------------------------------------------------- reporting


def _display(expression, width=160):
    """The formula with floats at 4 significant digits, cut to ``width`` characters."""
    if expression is None:
        return ""
    text = sympy.sstr(expression.xreplace({f: sympy.Float(f, 4) for f in expression.atoms(sympy.Float)}))
    return text if len(text) <= width else text[: width - 3] + "..."


def _cells(result):
    """The metric cells of one result (``n/a`` when the method did not run)."""
    if result is None:
        return ["n/a"] * 6
    if result.error:
        return ["error", "", "", "", "", ""]
    yes = {True: "yes", False: "no"}
    r2 = "nan" if np.isnan(result.r2) else f"{result.r2:.6f}"
    return [f"{result.time_s:.1f}", yes[result.closed], r2, str(result.ops), yes[result.compact], yes[result.exact]]


def summarize(results, method, n_expected):
    """Summary counts and times of one method (``None`` if it did not run).

    Parameters
    ----------
    results : list of Result
        Results of that method.
    method : str
        Its name.
    n_expected : int
        Number of (law, seed) runs planned.

    Returns
    -------
    dict or None
        ``compact``, ``close`` (closed with R^2 >= 0.99), ``exact``, ``runs``,
        ``errors``, ``median_s`` and ``max_s``.
    """
    if not results:
        return None
    times = [r.time_s for r in results if not r.error]
    return {
        "method": method,
        "runs": n_expected,
        "compact": sum(r.compact for r in results),
        "close": sum(r.closed and r.r2 >= R2_CLOSE for r in results),
        "exact": sum(r.exact for r in results),
        "errors": sum(bool(r.error) for r in results),
        "median_s": statistics.median(times) if times else float("nan"),
        "max_s": max(times) if times else float("nan"),
    }


def _summary_rows(summaries):
    header = ["method", "compact exact", f"closed, R2 >= {R2_CLOSE}", "exact", "errors", "median s/law", "max s/law"]
    rows = []
    for method, s in summaries.items():
        if s is None:
            rows.append([method] + ["n/a"] * 6)
        else:
            n = s["runs"]
            rows.append(
                [
                    method,
                    f"{s['compact']}/{n}",
                    f"{s['close']}/{n}",
                    f"{s['exact']}/{n}",
                    str(s["errors"]),
                    f"{s['median_s']:.1f}",
                    f"{s['max_s']:.1f}",
                ]
            )
    return header, rows


def _text_table(header, rows):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _markdown_table(header, rows):
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def print_law(law, seed_results):
    """Print one law's block: the law, then a row per method and seed with its formula."""
    law_expr = law_expression(law)
    print(f"\n{law.name}: {law_expr}   (ops {sympy.count_ops(law_expr)}; ranges {law.ranges})")
    header = ["method", "seed", "time s", "closed", "R2", "ops", "compact", "exact", "formula"]
    rows = []
    for (method, seed), result in seed_results.items():
        formula = result.error if result is not None and result.error else _display(getattr(result, "formula", None))
        rows.append([method, seed, *_cells(result), formula if result is not None else "n/a"])
    print(_text_table(header, rows))


def machine_line():
    """Python, torch, numpy, sympy, scikit-learn and gplearn versions, threads, CPUs."""
    import sklearn

    try:
        import torch

        torch_part = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_part = "torch not installed"
    try:
        from importlib.metadata import version

        gplearn_version = version("gplearn")
    except Exception:
        gplearn_version = "not installed"
    return (
        f"Python {platform.python_version()}, {torch_part}, numpy {np.__version__}, sympy {sympy.__version__}, "
        f"scikit-learn {sklearn.__version__}, gplearn {gplearn_version}; {os.cpu_count()} CPUs "
        f"({platform.machine()}, {platform.system()})"
    )


def build_markdown(args, laws, law_results, toy_results, summaries, toy_summaries, command):
    """The Markdown report: settings, tables, summaries, machine line and command."""
    metric_names = ["s", "closed", "R2", "ops", "compact", "exact"]
    header = ["law", "seed", "law ops"] + [f"{m} {name}" for m in METHODS for name in metric_names]
    rows, formula_rows = [], []
    for law in laws:
        law_ops = sympy.count_ops(law_expression(law))
        for seed in args.seeds:
            per_method = [law_results.get((law.name, method, seed)) for method in METHODS]
            rows.append([law.name, seed, law_ops] + [c for r in per_method for c in _cells(r)])
            formula_rows.append(
                [law.name, seed, str(law_expression(law))]
                + [("n/a" if r is None else (r.error or _display(r.formula))) for r in per_method]
            )
    toy_rows = []
    for seed in args.toy_seeds:
        per_method = [toy_results.get((method, seed)) for method in METHODS]
        skkan_formula = _display(getattr(per_method[0], "formula", None))
        toy_rows.append([seed] + [c for r in per_method for c in _cells(r)] + [skkan_formula])
    parts = [
        "## Formula discovery on Feynman laws",
        "",
        f"{len(laws)} AI Feynman laws with at most 4 inputs (their table's ranges), seeds {args.seeds}, "
        f"{N_TRAIN} training and {N_TEST} fresh test rows, no noise. skkan: "
        "`KANSymbolicRegressor(random_state=seed, n_jobs=2)`; gplearn: `SymbolicRegressor(population_size="
        f"{args.gp_population}, generations={args.gp_generations}, function_set={GPLEARN_FUNCTIONS}, "
        "parsimony_coefficient=0.001, random_state=seed, n_jobs=1)`. R2 is the formula's own (lambdify on the "
        f"test rows); compact: closed, R2 >= {R2_COMPACT}, ops <= 2 law ops + 6; exact: equal to the law after "
        f"rounding numbers to {DIGITS} significant digits (see benchmarks/discovery.py).",
        "",
        "### Summary",
        "",
        _markdown_table(*_summary_rows(summaries)),
        "",
    ]
    if args.toy_seeds:
        parts += [
            f"Toy `{TOY.expression}` on [-1, 1]^2, random states {args.toy_seeds}:",
            "",
            _markdown_table(*_summary_rows(toy_summaries)),
            "",
        ]
    parts += ["### Per law", "", _markdown_table(header, rows), "", "### Formulas", ""]
    parts += [_markdown_table(["law", "seed", "law", *METHODS], formula_rows), ""]
    if args.toy_seeds:
        toy_header = ["seed"] + [f"{m} {name}" for m in METHODS for name in metric_names] + ["skkan formula"]
        parts += ["### Toy", "", _markdown_table(toy_header, toy_rows), ""]
    parts += [f"Machine: {machine_line()}.", "", f"Command: `{command}`", ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--laws", type=int, default=None, help="run the first N laws of feynman.LAWS (default: all)")
    parser.add_argument("--names", nargs="+", default=None, help="run these laws (Feynman ids) instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of data and methods (default: 0)")
    parser.add_argument(
        "--toy-seeds", type=int, nargs="*", default=list(range(10)), help="random states for the toy (default: 0..9)"
    )
    parser.add_argument("--no-gplearn", action="store_true", help="skip gplearn (its columns say n/a)")
    parser.add_argument("--only", choices=METHODS, default=None, help="run only this method")
    parser.add_argument("--gp-population", type=int, default=1000, help="gplearn population_size (default: 1000)")
    parser.add_argument("--gp-generations", type=int, default=20, help="gplearn generations (default: 20)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the exactness simplification")
    parser.add_argument(
        "--out", type=Path, default=None, help="Markdown report (default: the discovery section of RESULTS.md)"
    )
    parser.add_argument("--append", action="store_true", help="append to --out instead of overwriting it")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the benchmark, print the tables and the summary, write the Markdown report."""
    args = parse_args(argv)
    command = "python " + " ".join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    if args.names:
        by_name = {law.name: law for law in LAWS}
        missing = [name for name in args.names if name not in by_name]
        if missing:
            raise SystemExit(f"discovery.py: unknown laws {missing}; known: {sorted(by_name)}")
        laws = [by_name[name] for name in args.names]
    else:
        laws = LAWS[: args.laws]

    methods = [args.only] if args.only else list(METHODS)
    if args.no_gplearn and "gplearn" in methods:
        methods.remove("gplearn")
    if "skkan" in methods:
        load_skkan()  # fail now, with the message, rather than after gplearn has run
    if "gplearn" in methods and load_gplearn() is None:
        methods.remove("gplearn")
    if not methods:
        raise SystemExit("discovery.py: no method left to run")
    print(f"Methods: {', '.join(methods)}; {len(laws)} laws; seeds {args.seeds}; toy seeds {args.toy_seeds}")
    print(f"Machine: {machine_line()}")

    def run_law(law, seeds):
        """Every method on ``law`` for ``seeds``: {(method, seed): result}, printed."""
        block = {(method, seed): run_one(method, law, seed, args) if method in methods else None
                 for seed in seeds for method in METHODS}
        print_law(law, block)
        return {key: result for key, result in block.items() if result is not None}

    law_results = {}
    for law in laws:
        law_results.update({(law.name, method, seed): r for (method, seed), r in run_law(law, args.seeds).items()})
    toy_results = run_law(TOY, args.toy_seeds) if args.toy_seeds else {}

    n_runs = len(laws) * len(args.seeds)
    summaries = {
        m: summarize([r for (_, method, _), r in law_results.items() if method == m], m, n_runs) for m in METHODS
    }
    toy_summaries = {
        m: summarize([r for (method, _), r in toy_results.items() if method == m], m, len(args.toy_seeds))
        for m in METHODS
    }
    print("\nSummary over laws:")
    print(_text_table(*_summary_rows(summaries)))
    if args.toy_seeds:
        print(f"\nToy {TOY.expression}, random states {args.toy_seeds}:")
        print(_text_table(*_summary_rows(toy_summaries)))

    report = build_markdown(args, laws, law_results, toy_results, summaries, toy_summaries, command)
    if args.out is None:
        write_section("discovery", report)
        print(f"\nWrote the discovery section of {RESULTS}")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a" if args.append else "w", encoding="utf-8") as handle:
        handle.write(("\n" if args.append else "") + report)
    print(f"\nWrote {args.out}")


if __name__ == "__main__":
    main()
