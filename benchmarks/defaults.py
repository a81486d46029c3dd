"""Defaults suite: the default KAN against a default-ish MLP on many data sets.

Issue "defaults that generalise": defaults are chosen on a suite of at least 8 data
sets of different sizes and kinds (scikit-learn's bundled sets and synthetic ones),
never on one. Target: on every set the default KAN's 5-fold CV score is at least the
MLP's minus 0.005, with a median (over sets) fit-time ratio KAN / MLP <= 2.

Run ``python benchmarks/defaults.py`` (set ``SCIKIT_LEARN_DATA`` to the shared cache,
or ``source scripts/data_env.sh``, on a machine without internet). Options:

``--estimator-kwargs JSON``
    Extra KAN parameters for a candidate default, e.g.
    ``'{"hidden_layer_sizes": [], "grid_size": 3}'``; applied to both KANRegressor
    and KANClassifier. ``--regressor-kwargs`` / ``--classifier-kwargs`` add (and
    override) parameters for one of them only.
``--datasets name,name``
    A subset of the suite (names below); ``--list`` prints them.
``--json FILE``
    Also write the raw per-fold results as JSON.
``--baselines-from FILE``
    Reuse the MLP and HGB results of an earlier ``--json`` file (same data sets and
    folds, so the same scores) instead of refitting them: quick for trying KAN
    candidates, but the fit-time ratio then mixes runs (marked in the output).
``--write``
    Write the table into the "defaults" section of ``benchmarks/RESULTS.md``.

Protocol, per data set: ``KFold(5, shuffle=True, random_state=0)`` for regression,
``StratifiedKFold`` likewise for classification; score = ``estimator.score`` (R^2 or
accuracy). Models, fitted back to back on each fold (interleaved, so load on a shared
machine hits them alike), each through ``cross_validate(..., cv=[fold], n_jobs=1)``:

* KAN: ``KANRegressor`` / ``KANClassifier(random_state=0, **kwargs)`` on raw X (it
  scales its inputs itself; that is the product claim);
* MLP: ``make_pipeline(StandardScaler(), MLPRegressor / MLPClassifier(
  hidden_layer_sizes=(64, 64), max_iter=500, random_state=0))``; ``max_iter=500``
  rather than 200 so that the MLP is not handicapped by stopping before convergence
  (no early stopping: scikit-learn's default);
* HGB (reference only): ``HistGradientBoostingRegressor / Classifier(random_state=0)``
  (wrapped in ``MultiOutputRegressor`` for multi-output targets).

Fit times are medians over the folds; the summary's ratio is the median over data sets
of (KAN median fit / MLP median fit).
"""

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets as skd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skkan
from skkan import KANClassifier, KANRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

TOLERANCE = 0.005  # KAN passes a set when its CV mean >= MLP's - TOLERANCE
MAX_TIME_RATIO = 2.0  # target for the median over sets of KAN fit / MLP fit


def _california():
    return skd.fetch_california_housing(return_X_y=True)


# name -> (task, loader, description). Order: regression, then classification.
DATASETS = {
    "diabetes": ("regression", lambda: skd.load_diabetes(return_X_y=True), "load_diabetes"),
    "california": ("regression", _california, "fetch_california_housing (all rows)"),
    "friedman1": (
        "regression",
        lambda: skd.make_friedman1(n_samples=2000, noise=1.0, random_state=0),
        "make_friedman1(n=2000, noise=1)",
    ),
    "noisy_linear": (
        "regression",
        lambda: skd.make_regression(n_samples=300, n_features=20, n_informative=5, noise=20.0, random_state=0),
        "make_regression(n=300, 20 features, 5 informative, noise=20)",
    ),
    "iris": ("classification", lambda: skd.load_iris(return_X_y=True), "load_iris"),
    "wine": ("classification", lambda: skd.load_wine(return_X_y=True), "load_wine"),
    "breast_cancer": ("classification", lambda: skd.load_breast_cancer(return_X_y=True), "load_breast_cancer"),
    "digits": ("classification", lambda: skd.load_digits(return_X_y=True), "load_digits"),
    "classification": (
        "classification",
        lambda: skd.make_classification(
            n_samples=3000, n_features=20, n_informative=10, n_redundant=5, random_state=0
        ),
        "make_classification(n=3000, 20 features, 10 informative, 5 redundant)",
    ),
    "moons": (
        "classification",
        lambda: skd.make_moons(n_samples=1000, noise=0.3, random_state=0),
        "make_moons(n=1000, noise=0.3)",
    ),
    # Optional (not in the default suite): tiny multi-output regression, 20 rows.
    "linnerud": ("regression", lambda: skd.load_linnerud(return_X_y=True), "load_linnerud (3 outputs, 20 rows)"),
}
DEFAULT_SUITE = [name for name in DATASETS if name != "linnerud"]
MODELS = ("kan", "mlp", "hgb")


def make_models(task, multi_output, kan_kwargs):
    if task == "regression":
        hgb = HistGradientBoostingRegressor(random_state=0)
        return {
            "kan": KANRegressor(**{"random_state": 0, **kan_kwargs}),
            "mlp": make_pipeline(
                StandardScaler(), MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0)
            ),
            "hgb": MultiOutputRegressor(hgb) if multi_output else hgb,
        }
    return {
        "kan": KANClassifier(**{"random_state": 0, **kan_kwargs}),
        "mlp": make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0)
        ),
        "hgb": HistGradientBoostingClassifier(random_state=0),
    }


def run_dataset(name, kan_kwargs, models=MODELS):
    """Per-fold scores and fit times of ``models`` on data set ``name``."""
    task, load, _ = DATASETS[name]
    X, y = load()
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    splitter = (KFold if task == "regression" else StratifiedKFold)(5, shuffle=True, random_state=0)
    result = {
        "dataset": name,
        "task": task,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        **{m: {"scores": [], "fit_times": []} for m in models},
    }
    for fold in splitter.split(X, y):
        for model_name, model in make_models(task, y.ndim > 1, kan_kwargs).items():
            if model_name not in models:
                continue
            cv = cross_validate(model, X, y, cv=[fold], n_jobs=1, error_score="raise")
            result[model_name]["scores"].append(float(cv["test_score"][0]))
            result[model_name]["fit_times"].append(float(cv["fit_time"][0]))
    return result


def summarise(result):
    row = dict(result)
    for m in MODELS:
        scores, times = result[m]["scores"], result[m]["fit_times"]
        row[m] = {
            **result[m],
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "fit_s": float(statistics.median(times)),
        }
    row["delta"] = row["kan"]["mean"] - row["mlp"]["mean"]
    row["ratio"] = row["kan"]["fit_s"] / row["mlp"]["fit_s"]
    row["passes"] = row["delta"] >= -TOLERANCE
    return row


def table(rows):
    lines = [
        "| dataset | n_samples | n_features | task | KAN CV (± std) | MLP CV | HGB CV | KAN − MLP | "
        "KAN fit (s) | MLP fit (s) | ratio |",
        "| --- | ---: | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        mark = "" if r["passes"] else " ✗"
        lines.append(
            f"| {r['dataset']} | {r['n_samples']} | {r['n_features']} | {'reg' if r['task'] == 'regression' else 'clf'} | "
            f"{r['kan']['mean']:.4f} ± {r['kan']['std']:.3f} | {r['mlp']['mean']:.4f} | {r['hgb']['mean']:.4f} | "
            f"{r['delta']:+.4f}{mark} | {r['kan']['fit_s']:.2f} | {r['mlp']['fit_s']:.2f} | {r['ratio']:.2f} |"
        )
    n_pass = sum(r["passes"] for r in rows)
    median_ratio = statistics.median(r["ratio"] for r in rows)
    summary = (
        f"Sets passing (KAN >= MLP - {TOLERANCE}): {n_pass}/{len(rows)}"
        + (f" (failing: {', '.join(r['dataset'] for r in rows if not r['passes'])})" if n_pass < len(rows) else "")
        + f"; median fit-time ratio KAN/MLP: {median_ratio:.2f} (target <= {MAX_TIME_RATIO:g}: "
        + f"{'met' if median_ratio <= MAX_TIME_RATIO else 'NOT met'}). "
        + f"Target overall: {'met' if n_pass == len(rows) and median_ratio <= MAX_TIME_RATIO else 'NOT met'}."
    )
    return lines, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimator-kwargs", default="{}", help="JSON of extra KAN parameters (both tasks)")
    parser.add_argument("--regressor-kwargs", default="{}", help="JSON of extra KANRegressor parameters")
    parser.add_argument("--classifier-kwargs", default="{}", help="JSON of extra KANClassifier parameters")
    parser.add_argument("--datasets", default=",".join(DEFAULT_SUITE), help="comma-separated names (see --list)")
    parser.add_argument("--list", action="store_true", help="print the data sets and exit")
    parser.add_argument("--json", help="write raw per-fold results to this file")
    parser.add_argument("--baselines-from", help="reuse MLP/HGB results from an earlier --json file")
    parser.add_argument("--write", action="store_true", help="write the 'defaults' section of RESULTS.md")
    args = parser.parse_args(argv)

    if args.list:
        for name, (task, _, description) in DATASETS.items():
            extra = "" if name in DEFAULT_SUITE else "  [optional]"
            print(f"{name:15s} {task:15s} {description}{extra}")
        return
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; known: {list(DATASETS)}")
    common = json.loads(args.estimator_kwargs)
    per_task = {
        "regression": {**common, **json.loads(args.regressor_kwargs)},
        "classification": {**common, **json.loads(args.classifier_kwargs)},
    }
    for kwargs in per_task.values():  # JSON lists -> tuples for hidden_layer_sizes
        if "hidden_layer_sizes" in kwargs:
            kwargs["hidden_layer_sizes"] = tuple(kwargs["hidden_layer_sizes"])
    cached = {}
    if args.baselines_from:
        cached = {r["dataset"]: r for r in json.loads(Path(args.baselines_from).read_text())["results"]}
        missing = [n for n in names if n not in cached]
        if missing:
            parser.error(f"{args.baselines_from} has no baselines for {missing}")

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    results, rows = [], []
    start = time.perf_counter()
    for name in names:
        task = DATASETS[name][0]
        if name in cached:
            result = run_dataset(name, per_task[task], models=("kan",))
            result.update({m: cached[name][m] for m in ("mlp", "hgb")})
        else:
            result = run_dataset(name, per_task[task])
        results.append(result)
        rows.append(summarise(result))
        r = rows[-1]
        print(
            f"[{time.perf_counter() - start:6.0f} s] {name}: KAN {r['kan']['mean']:.4f} MLP {r['mlp']['mean']:.4f} "
            f"HGB {r['hgb']['mean']:.4f}  KAN fit {r['kan']['fit_s']:.2f} s, MLP {r['mlp']['fit_s']:.2f} s",
            file=sys.stderr,
            flush=True,
        )

    lines, summary = table(rows)
    kwargs_text = ", ".join(
        f"{task}: `{json.dumps(kw, default=list)}`" for task, kw in per_task.items() if kw
    ) or "none (today's defaults)"
    text = "\n".join(
        [
            f"Written by `benchmarks/defaults.py` (skkan {skkan.__version__}, torch {torch.__version__}, "
            f"Python {platform.python_version()}, {torch.get_num_threads()} torch threads, "
            f"{time.strftime('%Y-%m-%d')}).",
            "",
            "## Defaults suite: default KAN (raw X) vs MLP(64, 64) + StandardScaler, 5-fold CV",
            "",
            f"Extra KAN parameters: {kwargs_text}. Scores are R^2 (regression) or accuracy "
            "(classification), mean over 5 shuffled folds (random_state=0); fit times are medians over "
            "the folds; ratio = KAN fit / MLP fit. MLP: `MLPRegressor/MLPClassifier(hidden_layer_sizes=(64, 64), "
            "max_iter=500, random_state=0)`; HGB: `HistGradientBoosting*(random_state=0)` (reference only)."
            + (
                f" MLP/HGB results reused from `{args.baselines_from}` (fit-time ratios mix two runs)."
                if cached
                else ""
            ),
            "",
            *lines,
            "",
            summary,
            "",
        ]
    )
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"kan_kwargs": per_task, "results": results}, indent=1, default=list), encoding="utf-8"
        )
    if args.write:
        write_section("defaults", text)


if __name__ == "__main__":
    main()
