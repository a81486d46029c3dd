#!/usr/bin/env bash
# Fresh machine -> test suite: set up .venv, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
source scripts/data_env.sh
# Two workers (pytest-xdist) of one thread each: CI has two cores, and threads of two
# workers fighting over them made the suite slower than one process.
# SKKAN_TEST_WORKERS=0 runs everything in this process, with the default threads.
workers="${SKKAN_TEST_WORKERS:-2}"
if [ "$workers" != 0 ]; then
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fi
exec .venv/bin/python -m pytest -n "$workers" --dist worksteal "$@"
