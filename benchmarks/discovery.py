"""Formula discovery on the AI Feynman laws, SRBench's ground-truth protocol: skkan against gplearn.

Run ``python benchmarks/discovery.py [selection] [--out FILE]`` to fit, and
``python benchmarks/discovery.py --summarize FILE [FILE ...]`` to build the Markdown
summary from result files. The full grid (120 laws x 2 kinds of ranges x 4 noise levels
x 2 methods) is long, so it runs in parts that append to JSON-lines files:

``--names ID ...``, ``--half {dev,test,all}``, ``--table {main,bonus,all}``, ``--inputs LO-HI``, ``--laws N``
    Which laws of :data:`feynman.LAWS` (the 100 laws of AI Feynman's main table and the
    20 of its bonus table): by id, by half of the fixed development/test split
    (:data:`feynman.DEV`, :data:`feynman.TEST`: 60 laws each, made with seed 2026 before
    any tuning), by table, by number of inputs (``--inputs 5-9``, ``--inputs 3``), and
    the first ``N`` of what is left.
``--ranges {positive,signed} ...``
    ``positive``: AI Feynman's sampling ranges (every law). ``signed``: the KAN paper's
    ranges, which let charges, fields, velocities, positions... go negative (the 35 laws
    that have them; the others are skipped for this kind). Default: both.
``--noise LEVEL ...``
    Noise levels (default ``0 0.001 0.01 0.1``).
``--seeds S ...``, ``--only {skkan,gplearn}``, ``--no-gplearn``
    Seeds (default 0) and methods (default both).
``--jobs N``
    Run ``N`` fits at a time, in worker processes (default 1). Times are comparable only
    between runs with the same ``--jobs`` and ``--skkan-jobs`` on the same machine; the
    figures of issue 20 are for ``--jobs 1`` with skkan's ``n_jobs=2`` on 2 cores.
``--out FILE``, ``--skip-done``
    Every fit appends one JSON line to ``FILE`` (default ``discovery.jsonl``) as soon
    as it is scored, so parts run one after the other or on different machines combine by
    passing all their files to ``--summarize``; ``--skip-done`` skips the fits that
    ``FILE`` already holds without error (to resume an interrupted part).
``--toy-seeds S ...``
    The KAN paper's toy ``exp(sin(pi x0) + x1**2)`` on [-1, 1]^2, noiseless, once per
    seed (default 0..9; ``--toy-seeds`` with no value skips it), by every method that runs.

Data. For a law, a kind of ranges and a seed, 2,000 training rows are drawn uniformly on
the law's ranges with ``numpy.random.default_rng(key)`` and 2,000 test rows after them
from the same generator, where ``key`` is ``[seed, crc32(id)]`` for positive ranges (the
rows of the earlier, positive-only version of this benchmark) and ``[seed, crc32(id), 1]``
for signed ones. Noise is added as SRBench adds it (``experiment/evaluate_model.py``): to
the training targets only, Gaussian with standard deviation ``level * sqrt(mean(y**2))``
(``level`` times the RMS of the noiseless training targets), drawn from its own generator
``default_rng([seed, crc32(id), kind, 2, round(level * 1e6)])`` so that every noise
level sees the same rows. Test targets stay clean.

Methods. Each method fits the training rows and hands back one SymPy formula:

* skkan: ``KANSymbolicRegressor(random_state=seed, n_jobs=2).fit(X, y).get_formula(precision=None)``
  (``--skkan-jobs`` sets ``n_jobs``; only the public estimator; ``X`` is a DataFrame, so
  the formula's symbols carry the column names);
* gplearn: ``SymbolicRegressor`` (:func:`make_gplearn`), its best program converted
  to SymPy by :func:`gplearn_to_sympy`: protected ``div``, ``log``, ``sqrt``, ``inv``
  become the plain functions, except where the protection acts on the training rows
  (``sqrt``/``log`` of an argument that goes negative become ``sqrt(Abs(.))``/
  ``log(Abs(.))``) or on constants (folded to gplearn's value), so the formula is
  gplearn's program on the data.

Metrics, all computed from the formula alone on the clean test rows:

``time``
    Seconds for ``fit`` plus the call that returns the formula (scoring not included).
``closed``
    The formula has no undefined function (no ``AppliedUndef`` atom such as skkan's
    ``spline_*`` placeholders for edges that did not snap to a closed form).
``R2``
    Test R^2 of the formula evaluated with ``sympy.lambdify`` (numpy) on the test rows,
    not of ``predict``; ``nan`` when the formula is not closed or gives a non-finite
    or complex value on some row.
``srbench`` (symbolic solution)
    SRBench's criterion (``experiment/assess_symbolic_model.py``, ``symbolic_utils.py``
    and the analysis that combines their flags), in this file's own code
    (:func:`srbench_solution`): the formula is closed, its test ``R2 > 0.5``, and

    1. ``pi`` becomes a float in the formula and in the law (SRBench writes the law
       with ``pi = 3.1415926535``); every other number stays as it is written: SRBench
       parses the law's string, so its integers, rationals and roots are exact, and the
       formula's floats stay floats. The formula's floats are rounded to 6 decimal
       places (SRBench's ``round(a, 6)``), it is simplified (``sympy.simplify(ratio=1)``)
       and rounded again; a formula that is then ``0`` fails. (Until 2026-12-06 every
       number of both sides went through ``evalf``, so ``sqrt(x)`` was ``x**0.5`` and
       ``2`` was ``2.0``: stricter than SRBench, since SymPy does not expand or cancel
       float powers, and formulas SymPy proves equal to the law failed.)
    2. ``difference = law - formula`` and ``ratio = formula / law``, each with its floats
       rounded to 6 decimals; the formula is a symbolic solution when the difference is
       ``0`` or constant, or the ratio is constant (``Expr.is_constant()``); when neither
       is, the difference is simplified (``simplify(ratio=1)``) and tested again, as
       SRBench does, and then the ratio (SRBench's code never simplifies the ratio, so
       ``1.00001*(u + v)/(1 + u*v/c**2)``, whose float SymPy spreads over ``u + v``, fails
       there and passes here). Symbols carry no assumptions (as SRBench's), so a formula that
       needs positivity to match (``sqrt(a)*sqrt(b)`` for ``sqrt(a*b)``) is not one.

    Any constant factor or offset passes (a formula off by a factor 1.0015 is a symbolic
    solution); exponents must match to 6 decimals. The simplification and tests run
    under ``--timeout`` seconds (SIGALRM); past it the formula is not a solution. Not in
    SRBench, to save time only: when the rounded difference and ratio both vary by more
    than ``1e-4`` (relative) over the test rows, the formula is no solution without
    calling SymPy (a symbolic constant varies by float rounding only).
``ops``
    ``sympy.count_ops(formula)``, shown beside ``count_ops`` of the law.
``compact``
    ``closed and R2 >= 0.9999 and ops <= 2 * law_ops + 6``.
``exact``
    Stricter than ``srbench``: the formula *is* the law once numbers are read to 3
    significant digits:

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
    4. both sides get symbols with ``positive=True`` where the variable's range (of the
       kind sampled) is positive (so ``sqrt(x**2) == x`` on the sampled domain), and the
       formula is exact when ``simplify(formula - law) == 0``; or, for a constant factor
       that the formula spreads differently from the law (``exp(-0.919 - x**2/2)``
       against ``0.399*exp(-x**2/2)``, equal only up to the rounding of each piece), when
       ``simplify(formula / law)`` is a number within ``5e-4`` of 1: half the smallest
       relative gap between two different 3-digit constants (9.98 against 9.99), so a
       wrong third digit (``0.0797`` for ``1/(4*pi)``) is never exact. A
       simplification running past ``--timeout`` seconds counts as not exact.

Summary (``--summarize``, also printed after a run for that run's fits): for each method,
kind of ranges and noise level, the symbolic-solution rate, compact and exact counts,
closed formulas with R^2 >= 0.99, and the median and largest time per law, on the
development half, the test half, and the laws with 5 to 9 inputs of each half
separately; beside SRBench's published symbolic-solution rates on the Feynman problems;
then the toy. Results combine across files by (method, law, ranges, noise, seed), the
line read last winning. ``--details`` adds a row per fit with its formula;
``--markdown FILE`` writes the summary to a file, ``--results-section NAME`` into
section ``NAME`` of ``benchmarks/RESULTS.md`` (the other sections kept). skkan's
estimator is imported only when skkan runs; if the installed skkan has no
``KANSymbolicRegressor`` the script stops with a message saying so; gplearn, when not
installed, is left out with a message.
"""

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import re
import signal
import statistics
import sys
import time
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402
from feynman import DEV, LAWS, RANGE_KINDS, TEST, TOY, law_expression, sample  # noqa: E402

METHODS = ("skkan", "gplearn")
NOISE_LEVELS = (0.0, 0.001, 0.01, 0.1)
N_TRAIN = 2000
N_TEST = 2000
R2_COMPACT = 0.9999
R2_CLOSE = 0.99
DIGITS = 3
NEGLIGIBLE = 1e-4  # a term under NEGLIGIBLE * rms(y) on every test row is dropped
FILTER_RTOL = 1e-2
EXACT_RTOL = 5e-4  # half the smallest gap (1e-3, at 9.99 vs 9.98) between 3-digit constants
SRBENCH_DECIMALS = 6  # SRBench's round_floats: round(a, 6)
SRBENCH_MIN_R2 = 0.5  # SRBench checks a model symbolically only when its test R^2 > 0.5
SRBENCH_FILTER = 1e-4  # a difference and ratio that both vary more than this (relative) are not constant
GPLEARN_FUNCTIONS = ("add", "sub", "mul", "div", "sqrt", "log", "sin", "cos", "neg", "inv")
KIND_KEY = {"positive": 0, "signed": 1}

#: SRBench's published symbolic-solution rates (%) on the Feynman problems, AI Feynman's
#: positive ranges (La Cava et al. 2021, "Contemporary symbolic regression methods and
#: their relative performance"), by noise level; None where not quoted here.
SRBENCH_RATES = {
    "AI Feynman": {0.0: "55.8", 0.001: None, 0.01: "~13", 0.1: "~1"},
    "DSR": {level: "19 to 17" for level in NOISE_LEVELS},  # "about 19-17 % across noise levels"
    "AFP-FE": {0.0: "27", 0.001: None, 0.01: "21", 0.1: "13"},
}

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




def fit_skkan(X, y, seed, n_jobs=2):
    """Fit ``KANSymbolicRegressor`` and return ``(formula, seconds, search)``.

    ``search`` records how discovery went: its trials in order (description, seconds,
    best held-out loss), the trial of the chosen formula and the estimated noise level.
    """
    estimator = load_skkan()(random_state=seed, n_jobs=n_jobs)
    start = time.perf_counter()
    estimator.fit(X, y)
    formula = estimator.get_formula(precision=None)  # the formula predict evaluates
    seconds = time.perf_counter() - start
    search = {
        "trials": [[t["trial"], round(float(t["seconds"]), 3), float(t["loss"])] for t in estimator.trials_],
        "chosen_trial": str(estimator.equations_["trial"][estimator.best_index_]),
        "noise_level": float(estimator.noise_level_),
    }
    return sympy.sympify(formula), seconds, search


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


class _Timeout(BaseException):  # not an Exception, so SymPy's own handlers cannot swallow it
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




def _as_floats(expression):
    """Every number of the expression as a float: ``pi`` and ``E`` too, rationals by ``evalf``."""
    expression = sympy.sympify(expression)
    return _constants_as_floats(expression).evalf()


def _constants_as_floats(expression):
    """``pi`` and ``E`` as floats, every other number as it is (SRBench parses the law
    with ``pi`` written ``3.1415926535`` and keeps its integers and rationals exact)."""
    expression = sympy.sympify(expression)
    return expression.xreplace({c: sympy.Float(c.evalf(17)) for c in expression.atoms(sympy.NumberSymbol)})


def _round_decimals(expression, decimals=SRBENCH_DECIMALS):
    """Every float of the expression rounded to ``decimals`` decimal places (SRBench's ``round(a, 6)``)."""
    return expression.xreplace({a: sympy.Float(round(float(a), decimals)) for a in expression.atoms(sympy.Float)})


def _clearly_varies(expression, X, scale):
    """Whether ``expression`` varies by more than ``1e-4 * scale`` over the rows (``False`` if not computable)."""
    values = evaluate(expression, X)
    return bool(not np.isnan(values).any() and np.ptp(values) > SRBENCH_FILTER * scale)


def srbench_solution(formula, law, r2, timeout=30.0, X=None):
    """SRBench's symbolic-solution test (see the module docstring).

    Parameters
    ----------
    formula : sympy.Expr
        Closed formula in plain symbols.
    law : sympy.Expr
        The law, in the same plain symbols.
    r2 : float
        The formula's test R^2 (the test runs only when it is over 0.5).
    timeout : float, default=30.0
        Seconds for the whole symbolic part.
    X : pandas.DataFrame, optional
        Test rows for the numeric filter: when the rounded difference and the rounded
        ratio both vary by more than ``1e-4`` (relative to ``rms(law)`` and to the
        ratio's median) over them, the formula is no solution and SymPy is not called
        (a symbolic constant varies by float rounding only, about ``1e-12``).

    Returns
    -------
    solution : bool
        Whether the formula is a symbolic solution.
    how : str
        ``"difference zero"``, ``"difference constant"``, ``"ratio constant"``, or why not:
        ``"R2 <= 0.5"``, ``"zero model"``, ``"not constant"``, ``"timeout"``, ``"error: ..."``.
    """
    if not r2 > SRBENCH_MIN_R2:
        return False, f"R2 <= {SRBENCH_MIN_R2}"
    try:
        with _time_limit(timeout):
            if X is not None:
                target = _as_floats(law)
                rounded = _round_decimals(_as_floats(formula))
                law_values = evaluate(target, X)
                ratio_values = evaluate(_round_decimals(rounded / target), X)
                if not np.isnan(law_values).any() and not np.isnan(ratio_values).any():
                    scale = float(np.sqrt(np.mean(law_values**2)))
                    if _clearly_varies(_round_decimals(target - rounded), X, scale) and np.ptp(
                        ratio_values
                    ) > SRBENCH_FILTER * max(abs(float(np.median(ratio_values))), 1e-12):
                        return False, "not constant (numerically)"
            model = _round_decimals(sympy.simplify(_round_decimals(_constants_as_floats(formula)), ratio=1))
            if model == 0 or model.has(sympy.nan):
                return False, "zero model"
            target = _round_decimals(_constants_as_floats(law))
            difference = _round_decimals(target - model)
            ratio = _round_decimals(model / target)
            if difference == 0:
                return True, "difference zero"
            if difference.is_constant():
                return True, "difference constant"
            if ratio.is_constant():
                return True, "ratio constant"
            difference = sympy.simplify(difference, ratio=1)
            if difference == 0:
                return True, "difference zero"
            if difference.is_constant():
                return True, "difference constant"
            if sympy.simplify(ratio, ratio=1).is_constant():  # not in SRBench's code, which never simplifies the ratio
                return True, "ratio constant"
            return False, "not constant"
    except _Timeout:
        return False, "timeout"
    except Exception as exc:  # SymPy failing on a strange formula is a failed check, not a crash
        return False, f"error: {type(exc).__name__}"


# --------------------------------------------------------------------------- one fit


def law_data(law, kind, seed):
    """Training and test rows of one law, kind of ranges and seed (module docstring).

    Returns
    -------
    X, y, X_test, y_test
        DataFrames of inputs and noiseless targets.
    """
    key = [seed, zlib.crc32(law.name.encode())] + ([] if kind == "positive" else [KIND_KEY[kind]])
    rng = np.random.default_rng(key)
    X, y = sample(law, N_TRAIN, rng, kind)
    X_test, y_test = sample(law, N_TEST, rng, kind)
    return X, y, X_test, y_test


def add_noise(y, level, law, kind, seed):
    """SRBench's target noise: ``y + normal(0, level * rms(y))``, from its own generator.

    Parameters
    ----------
    y : numpy.ndarray
        Noiseless training targets.
    level : float
        Noise level (0 returns a copy of ``y``).
    law : feynman.Law
        The law (its id seeds the generator).
    kind : {"positive", "signed"}
        Kind of ranges (seeds the generator).
    seed : int
        The run's seed.

    Returns
    -------
    numpy.ndarray
        Noisy targets.
    """
    if level == 0:
        return y.copy()
    rng = np.random.default_rng([seed, zlib.crc32(law.name.encode()), KIND_KEY[kind], 2, int(round(level * 1e6))])
    return y + rng.normal(0.0, level * float(np.sqrt(np.mean(np.square(y)))), size=len(y))


def law_half(name):
    """``"dev"``, ``"test"`` or ``"toy"``."""
    return "dev" if name in DEV else "test" if name in TEST else "toy"


def run_task(task, settings):
    """Sample, fit one method, score: one result record (a JSON-ready dict).

    Parameters
    ----------
    task : dict
        ``method``, ``law`` (id or ``"toy"``), ``kind``, ``noise``, ``seed``.
    settings : dict
        ``gp_population``, ``gp_generations``, ``timeout``, ``skkan_jobs``.

    Returns
    -------
    dict
        The task's keys and ``table``, ``half``, ``n_inputs``, ``time_s``, ``formula``,
        ``closed``, ``r2``, ``ops``, ``law_ops``, ``compact``, ``exact``, ``srbench``,
        ``srbench_how``, ``error``, ``score_s``, ``machine``, ``date`` (skkan also ``search``, see
        :func:`fit_skkan`); on an exception
        inside the method ``error`` holds it and the metrics are false.
    """
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    law = TOY if task["law"] == TOY.name else BY_NAME[task["law"]]
    method, kind, noise, seed = task["method"], task["kind"], float(task["noise"]), int(task["seed"])
    law_expr = law_expression(law)
    record = dict(task, noise=noise, seed=seed, table=law.table if law is not TOY else "toy", half=law_half(law.name),
                  n_inputs=law.n_inputs, n_train=N_TRAIN, law_ops=int(sympy.count_ops(law_expr)), time_s=None,
                  formula=None, closed=False, r2=None, ops=None, compact=False, exact=False, srbench=False,
                  srbench_how="", error="", score_s=None, machine=machine_line(), command=settings.get("command", ""),
                  date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    X, y, X_test, y_test = law_data(law, kind, seed)
    y_train = add_noise(y, noise, law, kind, seed)
    try:
        if method == "skkan":
            formula, record["time_s"], record["search"] = fit_skkan(X, y_train, seed, settings["skkan_jobs"])
        else:
            formula, record["time_s"] = fit_gplearn(
                X, y_train, seed, settings["gp_population"], settings["gp_generations"]
            )
    except Exception as exc:  # one failing fit must not end the benchmark
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    start = time.perf_counter()
    try:
        formula = _plain(sympy.sympify(formula))
        record["formula"] = sympy.sstr(formula)
        record["closed"] = is_closed(formula)
        record["ops"] = int(sympy.count_ops(formula))
        if record["closed"]:
            r2 = r2_score(y_test, evaluate(formula, X_test))
            record["r2"] = None if math.isnan(r2) else r2
            record["compact"] = bool(r2 >= R2_COMPACT and record["ops"] <= 2 * record["law_ops"] + 6)
            record["exact"] = is_exact(formula, law_expr, law.ranges_for(kind), X_test, y_test, settings["timeout"])
            record["srbench"], record["srbench_how"] = srbench_solution(
                formula, law_expr, r2, settings["timeout"], X_test
            )
        else:
            record["srbench_how"] = "not closed"
    except Exception as exc:  # a formula SymPy cannot score counts as not found, with the reason kept
        record["srbench_how"] = f"scoring failed: {type(exc).__name__}: {exc}"[:200]
    record["score_s"] = time.perf_counter() - start
    return record


BY_NAME = {law.name: law for law in LAWS}
RECORD_KEY = ("method", "law", "kind", "noise", "seed")


def record_key(record):
    """The (method, law, kind, noise, seed) of a record."""
    return tuple(record[k] if k != "noise" else float(record[k]) for k in RECORD_KEY)


def _describe(record):
    """One line for a finished fit."""
    head = (f"{record['method']} {record['law']} ({record['kind']}, noise {record['noise']:g}, "
            f"seed {record['seed']}, {record['half']})")
    if record["error"]:
        return f"{head}: error {record['error']}"
    r2 = "nan" if record["r2"] is None else f"{record['r2']:.6f}"
    yes = {True: "yes", False: "no"}
    return (f"{head}: {record['time_s']:.1f} s, R2 {r2}, srbench {yes[record['srbench']]} ({record['srbench_how']}), "
            f"exact {yes[record['exact']]}, compact {yes[record['compact']]}: {_short(record['formula'], 110)}")


def _short(text, width=100):
    """``text`` (a formula string) with floats at 4 significant digits, cut to ``width``."""
    if text is None:
        return ""
    text = re.sub(r"\d+\.\d{4,}(?:e[-+]?\d+)?", lambda m: f"{float(m.group()):.4g}", text)
    return text if len(text) <= width else text[: width - 3] + "..."


def read_records(paths):
    """Records of JSON-lines files, the last line of each (method, law, kind, noise, seed) winning."""
    records = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    print(f"{path}:{number}: not JSON, skipped", file=sys.stderr)
                    continue
                records[record_key(record)] = record
    return list(records.values())


# --------------------------------------------------------------------------- summary


def _rate(count, total):
    return "-" if total == 0 else f"{count}/{total} ({100 * count / total:.0f} %)"


def summary_cells(records):
    """Counts and times of a group of records (laws x seeds)."""
    times = [r["time_s"] for r in records if not r["error"] and r["time_s"] is not None]
    n = len(records)
    return [
        str(n),
        _rate(sum(r["srbench"] for r in records), n),
        _rate(sum(r["compact"] for r in records), n),
        _rate(sum(r["exact"] for r in records), n),
        _rate(sum(bool(r["closed"] and r["r2"] is not None and r["r2"] >= R2_CLOSE) for r in records), n),
        f"{statistics.median(times):.1f}" if times else "-",
        f"{max(times):.1f}" if times else "-",
        str(sum(bool(r["error"]) for r in records)),
    ]


SUMMARY_HEADER = ["method", "ranges", "noise", "half", "fits", "symbolic solution (SRBench)", "compact", "exact",
                  f"closed, R2 >= {R2_CLOSE}", "median s/law", "max s/law", "errors"]
SUBSETS = (
    ("dev", lambda r: r["half"] == "dev"),
    ("test", lambda r: r["half"] == "test"),
    ("dev, 5-9 inputs", lambda r: r["half"] == "dev" and 5 <= r["n_inputs"] <= 9),
    ("test, 5-9 inputs", lambda r: r["half"] == "test" and 5 <= r["n_inputs"] <= 9),
)


def summary_rows(records):
    """One row per (method, ranges, noise, subset) present in ``records``."""
    rows = []
    groups = sorted({(r["method"], r["kind"], float(r["noise"])) for r in records if r["law"] != TOY.name},
                    key=lambda g: (METHODS.index(g[0]) if g[0] in METHODS else 9, RANGE_KINDS.index(g[1]), g[2]))
    for method, kind, noise in groups:
        group = [r for r in records if (r["method"], r["kind"], float(r["noise"])) == (method, kind, noise)
                 and r["law"] != TOY.name]
        for subset, keep in SUBSETS:
            chosen = [r for r in group if keep(r)]
            if chosen:
                rows.append([method, kind, f"{noise:g}", subset, *summary_cells(chosen)])
    return rows


def reference_rows(levels):
    """SRBench's published rates at the noise levels of the summary."""
    rows = []
    for method, rates in SRBENCH_RATES.items():
        rows.append([method] + [rates.get(level) or "-" for level in levels])
    return rows


def toy_rows(records):
    """The toy: one row per method."""
    rows = []
    for method in METHODS:
        chosen = [r for r in records if r["law"] == TOY.name and r["method"] == method]
        if chosen:
            seeds = sorted(r["seed"] for r in chosen)
            rows.append([method, ", ".join(map(str, seeds)), *summary_cells(chosen)[1:]])
    return rows


def detail_rows(records):
    """One row per fit, with its formula."""
    order = sorted(records, key=lambda r: (r["law"] == TOY.name, r["half"], r["law"], r["kind"], float(r["noise"]),
                                           r["method"], r["seed"]))
    rows = []
    yes = {True: "yes", False: "no"}
    for r in order:
        r2 = "" if r["r2"] is None else f"{r['r2']:.6f}"
        t = "" if r["time_s"] is None else f"{r['time_s']:.1f}"
        rows.append([r["law"], r["half"], r["n_inputs"], r["kind"], f"{float(r['noise']):g}", r["method"], r["seed"], t,
                     r2, yes[r["srbench"]], yes[r["exact"]], yes[r["compact"]],
                     r["error"] or _short(r["formula"], 120)])
    return rows


def build_markdown(records, sources, details=False):
    """The Markdown summary of ``records`` (read from ``sources``)."""
    laws = {r["law"] for r in records if r["law"] != TOY.name}
    levels = sorted({float(r["noise"]) for r in records if r["law"] != TOY.name})
    machines = sorted({r.get("machine", "") for r in records} - {""})
    commands = sorted({r.get("command", "") for r in records} - {""})
    parts = [
        "## Formula discovery on the AI Feynman laws (SRBench ground-truth protocol)",
        "",
        f"{len(laws)} laws ({sum(n in DEV for n in laws)} of the development half, {sum(n in TEST for n in laws)} "
        f"of the test half; split fixed with seed 2026 before tuning), {N_TRAIN} training rows with SRBench's "
        "target noise (std = level x RMS(y), training rows only), clean test rows. `positive`: AI Feynman's "
        "ranges; `signed`: the KAN paper's, for the 35 laws where they go negative. Symbolic solution: SRBench's "
        "criterion (difference or ratio of formula and law a constant after rounding floats to 6 decimals, "
        "test R2 > 0.5); compact: closed, R2 >= 0.9999, ops <= 2 law ops + 6; exact: equal to the law with "
        "numbers at 3 significant digits (see benchmarks/discovery.py). Times: fit + formula, per law.",
        "",
        _markdown_table(SUMMARY_HEADER, summary_rows(records)) if laws else "(no Feynman law in these files)",
        "",
        "SRBench's published symbolic-solution rates (%) on the Feynman problems (AI Feynman's positive ranges, "
        "all laws; La Cava et al. 2021, as quoted in issue 20; DSR: about 19 to 17 % across the noise levels):",
        "",
        _markdown_table(["method"] + [f"noise {level:g}" for level in levels or NOISE_LEVELS],
                        reference_rows(levels or NOISE_LEVELS)),
        "",
    ]
    toy = toy_rows(records)
    if toy:
        header = ["method", "seeds", "symbolic solution", "compact", "exact", f"closed, R2 >= {R2_CLOSE}",
                  "median s", "max s", "errors"]
        parts += [f"Toy `{TOY.expression}` on [-1, 1]^2, noiseless:", "", _markdown_table(header, toy), ""]
    if details:
        header = ["law", "half", "inputs", "ranges", "noise", "method", "seed", "s", "R2", "srbench", "exact",
                  "compact", "formula"]
        parts += ["### Per fit", "", _markdown_table(header, detail_rows(records)), ""]
    parts += [f"Machine: {m}." for m in machines] + [""]
    parts += [f"Command: `{c}`" for c in commands] + [""]
    parts += [f"Result files: {', '.join(str(s) for s in sources)}.", ""]
    return "\n".join(parts)


def _text_table(header, rows):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _markdown_table(header, rows):
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


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




# --------------------------------------------------------------------------- main


def _inputs_range(text):
    """``"5-9"`` -> (5, 9); ``"3"`` -> (3, 3)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected N or LO-HI, got {text!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    return low, high


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summarize", nargs="+", type=Path, metavar="FILE",
                        help="build the summary from these JSON-lines result files instead of fitting")
    parser.add_argument("--details", action="store_true", help="summary: add a row per fit with its formula")
    parser.add_argument("--markdown", type=Path, default=None, help="summary: also write it to this file")
    parser.add_argument("--results-section", default=None, metavar="NAME",
                        help="summary: also write it into section NAME of benchmarks/RESULTS.md (others kept)")
    parser.add_argument("--names", nargs="+", default=None, help="run these laws (ids such as I.12.2 or test_3)")
    parser.add_argument("--half", choices=("dev", "test", "all"), default="all", help="half of the split (default all)")
    parser.add_argument("--table", choices=("main", "bonus", "all"), default="all", help="AI Feynman table")
    parser.add_argument("--inputs", type=_inputs_range, default=None, metavar="LO-HI",
                        help="laws with LO to HI inputs, such as 5-9 or 3")
    parser.add_argument("--laws", type=int, default=None, help="then only the first N laws left (table order)")
    parser.add_argument("--ranges", nargs="+", choices=RANGE_KINDS, default=list(RANGE_KINDS),
                        help="kinds of ranges (default: positive signed)")
    parser.add_argument("--noise", type=float, nargs="+", default=list(NOISE_LEVELS),
                        help="noise levels (default: 0 0.001 0.01 0.1)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of data and methods (default: 0)")
    parser.add_argument("--toy-seeds", type=int, nargs="*", default=list(range(10)),
                        help="random states for the toy (default: 0..9; no value: skip it)")
    parser.add_argument("--no-gplearn", action="store_true", help="skip gplearn")
    parser.add_argument("--only", choices=METHODS, default=None, help="run only this method")
    parser.add_argument("--gp-population", type=int, default=1000, help="gplearn population_size (default: 1000)")
    parser.add_argument("--gp-generations", type=int, default=20, help="gplearn generations (default: 20)")
    parser.add_argument("--skkan-jobs", type=int, default=2, help="KANSymbolicRegressor n_jobs (default: 2)")
    parser.add_argument("--jobs", type=int, default=1, help="fits run at a time, in worker processes (default: 1)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds for each symbolic check (srbench, exact; default 30)")
    parser.add_argument("--out", type=Path, default=Path("discovery.jsonl"),
                        help="JSON-lines file the results are appended to (default: discovery.jsonl)")
    parser.add_argument("--skip-done", action="store_true", help="skip fits that --out already holds without error")
    parser.add_argument("--list", action="store_true", help="print the selected laws and fits, and stop")
    return parser.parse_args(argv)


def select_laws(args):
    """The laws chosen by ``--names``, ``--half``, ``--table``, ``--inputs`` and ``--laws``."""
    if args.names:
        missing = [name for name in args.names if name not in BY_NAME]
        if missing:
            raise SystemExit(f"discovery.py: unknown laws {missing}; known: {sorted(BY_NAME)}")
        laws = [BY_NAME[name] for name in args.names]
    else:
        laws = list(LAWS)
    if args.half != "all":
        laws = [law for law in laws if law.name in (DEV if args.half == "dev" else TEST)]
    if args.table != "all":
        laws = [law for law in laws if law.table == args.table]
    if args.inputs is not None:
        low, high = args.inputs
        laws = [law for law in laws if low <= law.n_inputs <= high]
    return laws[: args.laws]


def summarize_files(args):
    """``--summarize``: print (and write) the Markdown summary of result files."""
    records = read_records(args.summarize)
    if not records:
        raise SystemExit("discovery.py: no records in " + ", ".join(map(str, args.summarize)))
    report = build_markdown(records, args.summarize, args.details)
    print(report)
    if args.markdown is not None:
        args.markdown.write_text(report, encoding="utf-8")
        print(f"Wrote {args.markdown}", file=sys.stderr)
    if args.results_section:
        write_section(args.results_section, report)
        print(f"Wrote section {args.results_section} of {RESULTS}", file=sys.stderr)


def main(argv=None):
    """Fit the selected part of the grid, appending records to ``--out``; or summarize files."""
    args = parse_args(argv)
    if args.summarize:
        summarize_files(args)
        return
    command = "python " + " ".join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    laws = [law for law in select_laws(args) if any(law.ranges_for(kind) is not None for kind in args.ranges)]
    methods = [args.only] if args.only else list(METHODS)
    if args.no_gplearn and "gplearn" in methods:
        methods.remove("gplearn")
    tasks = [
        {"method": method, "law": law.name, "kind": kind, "noise": float(noise), "seed": seed}
        for law in laws for kind in args.ranges if law.ranges_for(kind) is not None
        for noise in args.noise for seed in args.seeds for method in methods
    ]
    tasks += [{"method": method, "law": TOY.name, "kind": "positive", "noise": 0.0, "seed": seed}
              for seed in args.toy_seeds for method in methods]
    skipped_kind = sum(law.ranges_for(kind) is None for law in laws for kind in args.ranges)
    if args.skip_done and args.out.exists():
        done = {record_key(r) for r in read_records([args.out]) if not r["error"]}
        tasks = [t for t in tasks if record_key(t) not in done]
    print(f"{len(laws)} laws ({sum(law.name in DEV for law in laws)} dev, {sum(law.name in TEST for law in laws)} "
          f"test); ranges {args.ranges} ({skipped_kind} law/kind pairs without such ranges skipped); noise "
          f"{args.noise}; seeds {args.seeds}; toy seeds {args.toy_seeds}; methods {methods}: {len(tasks)} fits")
    if args.list:
        print(" ".join(law.name for law in laws))
        return
    if "skkan" in methods:
        load_skkan()  # fail now, with the message, rather than after gplearn has run
    if "gplearn" in methods and load_gplearn() is None:
        methods.remove("gplearn")
        tasks = [t for t in tasks if t["method"] != "gplearn"]
    if not tasks:
        print("Nothing to run.")
        return
    print(f"Machine: {machine_line()}")
    settings = {"gp_population": args.gp_population, "gp_generations": args.gp_generations,
                "timeout": args.timeout, "skkan_jobs": args.skkan_jobs, "command": command}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = []

    def keep(record):
        records.append(record)
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"[{len(records)}/{len(tasks)}] {_describe(record)}", flush=True)

    if args.jobs <= 1:
        for task in tasks:
            keep(run_task(task, settings))
    else:
        context = multiprocessing.get_context("spawn")  # no fork after torch has started its threads
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = [pool.submit(run_task, task, settings) for task in tasks]
            for future in as_completed(futures):
                keep(future.result())
    rows = summary_rows(records)
    if rows:
        print()
        print(_text_table(SUMMARY_HEADER, rows))
    toy = toy_rows(records)
    if toy:
        print(f"\nToy {TOY.expression}:")
        print(_text_table(["method", "seeds", *SUMMARY_HEADER[5:]], toy))
    print(f"\nAppended {len(records)} records to {args.out}; summarize with: "
          f"python benchmarks/discovery.py --summarize {args.out}")


if __name__ == "__main__":
    main()
