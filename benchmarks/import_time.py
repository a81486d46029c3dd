"""Import time of ``skkan`` against its unavoidable dependencies.

``import skkan`` and ``import torch; import sklearn.base`` (the baseline) each run in
a fresh interpreter (``python -c ...``), once per round, for several rounds. Within a
round the two run back to back, in alternating order from round to round, so that
load from other processes and any drift of the machine hit both alike and neither
always runs second (with warmer caches). The result is the median over rounds of each
round's own difference, skkan minus baseline, in wall time and in CPU time (user +
system of the child process); on a busy machine wall times swing with other load, CPU
times much less. The bar: ``import skkan`` costs at most the baseline plus 0.2 s.

The report is printed and written to the ``import_time`` section of
``benchmarks/RESULTS.md`` (``--no-write`` leaves the file alone). The interpreters
start in the folder that holds this checkout's ``skkan``, so it is this checkout's
package that is timed.

Usage: ``python benchmarks/import_time.py [--rounds 15] [--no-write]``.
"""

import argparse
import datetime
import os
import platform
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
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", statement], cwd=ROOT)
    # wait4 gives this child's own resource usage, whatever else has finished.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, statement)
    return wall, usage.ru_utime + usage.ru_stime


def measure(rounds):
    """Per-round times of both statements, run back to back in alternating order.

    Returns a dict name -> list of (wall, cpu), one entry per round.
    """
    # One warm-up run of each so that the file system and bytecode caches are warm
    # for both before anything is recorded.
    for statement in STATEMENTS.values():
        time_statement(statement)
    names = list(STATEMENTS)
    runs = {name: [] for name in names}
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(time_statement(STATEMENTS[name]))
    return runs


def summarise(runs):
    """Medians of each statement and of the per-round differences (skkan - baseline)."""
    summary = {}
    for kind, index in (("wall", 0), ("cpu", 1)):
        base = [run[index] for run in runs["baseline"]]
        own = [run[index] for run in runs["skkan"]]
        differences = sorted(o - b for o, b in zip(own, base))
        summary[kind] = {
            "baseline": statistics.median(base),
            "skkan": statistics.median(own),
            "difference": statistics.median(differences),
            # The middle half of the rounds' differences: how much to trust the median.
            "quartiles": tuple(statistics.quantiles(differences, n=4)[i] for i in (0, 2)),
        }
    return summary


def report(summary, rounds):
    import sklearn
    import torch

    import skkan

    wall, cpu = summary["wall"], summary["cpu"]
    verdict = "within" if wall["difference"] <= BUDGET_S else "OVER"
    return f"""## Import time

Written by `benchmarks/import_time.py` ({datetime.date.today().isoformat()}): {rounds} rounds; each round
runs `import skkan` and `{STATEMENTS["baseline"]}` in fresh `python -c` processes back to back,
in alternating order from round to round (interpreter start-up included in both). Times are
medians over the rounds; the difference is the median of each round's own difference
(interquartile range of those differences in brackets). CPU is user + system time of the process.

| statement | wall (s) | CPU (s) |
|---|---|---|
| `{STATEMENTS["baseline"]}` | {wall["baseline"]:.2f} | {cpu["baseline"]:.2f} |
| `{STATEMENTS["skkan"]}` | {wall["skkan"]:.2f} | {cpu["skkan"]:.2f} |
| difference, per round | {wall["difference"]:+.2f} ({wall["quartiles"][0]:+.2f} to {wall["quartiles"][1]:+.2f}) | \
{cpu["difference"]:+.2f} ({cpu["quartiles"][0]:+.2f} to {cpu["quartiles"][1]:+.2f}) |

`import skkan` costs {wall["difference"]:+.2f} s of wall time over torch and `sklearn.base`
({verdict} the {BUDGET_S} s budget) and {cpu["difference"]:+.2f} s of CPU time.

Machine: Python {platform.python_version()}, skkan {skkan.__version__}, torch {torch.__version__},
scikit-learn {sklearn.__version__}; {platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs.

Command: `python benchmarks/import_time.py --rounds {rounds}`
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds of one run of each statement")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the order alternates between rounds)")
    text = report(summarise(measure(args.rounds)), args.rounds)
    print(text)
    if not args.no_write:
        write_section("import_time", text)


if __name__ == "__main__":
    main()
