#!/usr/bin/env bash
# Fresh machine -> main job: Iris and California Housing, KAN against MLP (and
# HistGradientBoosting), plus the layer micro-benchmark; prints a table and writes
# benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
source scripts/data_env.sh
exec .venv/bin/python benchmarks/compare.py "$@"
