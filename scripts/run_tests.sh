#!/usr/bin/env bash
# Fresh machine -> test suite: set up .venv, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
source scripts/data_env.sh
exec .venv/bin/python -m pytest "$@"
