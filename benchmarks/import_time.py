"""Import time of ``skkan`` against its unavoidable dependencies.

Each statement runs in a fresh interpreter (``python -c ...``), several times; the
median wall time and the median CPU time (user + system, of the child process) of
each are reported and written to the ``import_time`` section of
``benchmarks/RESULTS.md``. On a busy machine wall times swing with other load; CPU
times much less. The bar: ``import skkan`` costs at most
``import torch; import sklearn.base`` plus 0.2 s.

Usage: ``python benchmarks/import_time.py [--repeats 5]``.
"""

import argparse
import datetime
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = {
    "baseline": "import torch; import sklearn.base",
    "skkan": "import skkan",
}
BUDGET_S = 0.2


def time_statement(statement):
    """Wall and CPU time (s) of ``python -c statement`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    # One warm-up run of each so that the file system cache is equally warm for both.
    for statement in STATEMENTS.values():
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    # Interleave the two so that load from other processes affects both alike.
    runs = {name: [] for name in STATEMENTS}
    for _ in range(args.repeats):
        for name, statement in STATEMENTS.items():
            runs[name].append(time_statement(statement))
    wall = {name: statistics.median(w for w, _ in values) for name, values in runs.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in runs.items()}
    overhead = wall["skkan"] - wall["baseline"]
    cpu_overhead = cpu["skkan"] - cpu["baseline"]
    import sklearn
    import torch

    import skkan

    verdict = "within" if overhead <= BUDGET_S else "OVER"
    text = f"""## Import time

Written by `benchmarks/import_time.py` ({datetime.date.today().isoformat()}): median wall time of
{args.repeats} fresh `python -c` processes each, interleaved (interpreter start-up included in both),
and their median CPU time (user + system).

| statement | wall (s) | CPU (s) |
|---|---|---|
| `{STATEMENTS["baseline"]}` | {wall["baseline"]:.2f} | {cpu["baseline"]:.2f} |
| `{STATEMENTS["skkan"]}` | {wall["skkan"]:.2f} | {cpu["skkan"]:.2f} |

`import skkan` costs {overhead:+.2f} s of wall time ({verdict} the {BUDGET_S} s budget) and
{cpu_overhead:+.2f} s of CPU time over torch and `sklearn.base`.

Machine: Python {platform.python_version()}, skkan {skkan.__version__}, torch {torch.__version__},
scikit-learn {sklearn.__version__}; {platform.machine()}, {platform.system()}.

Command: `python benchmarks/import_time.py`
"""
    print(text)
    write_section("import_time", text)


if __name__ == "__main__":
    main()
