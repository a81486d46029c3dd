#!/usr/bin/env bash
# Create (once) the project's virtual environment in .venv with everything installed.
# torch==2.13.0 is installed first: it is the CPU build; an unpinned torch pulls a
# multi-GB CUDA build. The package itself asks for a range that 2.13.0 satisfies.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test,benchmark,dask,docs]"
