"""California Housing with the additive KAN and its interactions (issue 21's target).

80/20 split (``random_state=0``), as the issue measures it. For the additive KAN
without and with ``interactions="auto"``: test R^2, fit time, the formula with its
spline terms named (characters, and its R^2 against the network on the test rows),
then the same after ``auto_symbolic`` on the training rows. With ``--ebm`` (the
``benchmark`` extra) InterpretML's ExplainableBoostingRegressor on the same split.
``--write`` puts the table in the ``additive_california`` section of RESULTS.md.

Run::

    python benchmarks/additive_california.py --write
"""

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scikit_learn_data"
if DATA.is_dir():
    os.environ.setdefault("SCIKIT_LEARN_DATA", str(DATA))

SECTION = "additive_california"


def measure(name, make, X_train, X_test, y_train, y_test, snap=True):
    start = time.perf_counter()
    model = make().fit(X_train, y_train)
    row = {"model": name, "fit_s": time.perf_counter() - start, "r2": model.score(X_test, y_test)}
    if hasattr(model, "get_formula"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row["terms"] = len(model.term_names_)
            row["pairs"] = [n for n in model.term_names_ if " & " in n]
            row["chars"] = len(str(model.get_formula()))
            row["formula_r2"] = float(model.formula_report(X_test).r2[0])
            if snap:
                start = time.perf_counter()
                model.auto_symbolic(X_train, y_train)
                row["snap_s"] = time.perf_counter() - start
                row["snapped_r2"] = model.score(X_test, y_test)
                row["snapped_chars"] = len(str(model.get_formula()))
                report = model.formula_report(X_test)
                row["snapped_formula_r2"] = float(report.r2[0])
                row["snapped_formula_r2_in_range"] = float(report.r2_in_range[0])
                row["n_outside"] = report.n_outside_range
    return row


def main(argv=None):
    from sklearn.datasets import fetch_california_housing
    from sklearn.model_selection import train_test_split

    from skkan import KANRegressor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ebm", action="store_true", help="also fit InterpretML's EBM (slow: minutes)")
    parser.add_argument("--write", action="store_true", help=f"write the '{SECTION}' section of RESULTS.md")
    args = parser.parse_args(argv)

    X, y = fetch_california_housing(return_X_y=True, as_frame=True)
    split = train_test_split(X, y, test_size=0.2, random_state=0)
    rows = [
        measure("additive KAN (hidden_layer_sizes=())", lambda: KANRegressor(hidden_layer_sizes=(), random_state=0), *split),
        measure(
            "additive KAN, interactions='auto'",
            lambda: KANRegressor(hidden_layer_sizes=(), interactions="auto", random_state=0),
            *split,
        ),
    ]
    if args.ebm:
        from interpret.glassbox import ExplainableBoostingRegressor

        rows.append(measure("EBM (InterpretML defaults)", lambda: ExplainableBoostingRegressor(random_state=0), *split))
    lines = [
        f"California Housing, 80/20 split (random_state=0), `benchmarks/additive_california.py` "
        f"({platform.python_version()}, {os.cpu_count()} cores). Formula: `get_formula()` with spline terms named "
        "(`main_i`, `pair_i_j`, `spline_...`); its R² is against the network's predictions on the test rows. "
        "Snapped: after `auto_symbolic(X_train, y_train)` (readable closed forms only). `predict` clips every feature "
        "to its training range and the formula does not, so the snapped formula is also compared on the test rows "
        "inside that range (in range; the number of test rows outside it in brackets).",
        "",
        "| model | test R² | fit s | terms | pairs | formula chars | formula R² vs net | snapped test R² | snapped chars | snapped formula R² vs net | in range | snap s |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        def get(key, spec=".4f", row=row):
            return format(row[key], spec) if key in row else ""

        outside = f" ({row['n_outside']})" if "n_outside" in row else ""
        lines.append(
            f"| {row['model']} | {row['r2']:.4f} | {row['fit_s']:.1f} | {row.get('terms', '')} | "
            f"{', '.join(row.get('pairs', []))} | {row.get('chars', '')} | {get('formula_r2')} | {get('snapped_r2')} | "
            f"{row.get('snapped_chars', '')} | {get('snapped_formula_r2')} | "
            f"{get('snapped_formula_r2_in_range')}{outside} | {get('snap_s', '.1f')} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        from _results import write_section

        write_section(SECTION, "## California Housing: additive KAN with interactions (issue 21)\n\n" + text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
