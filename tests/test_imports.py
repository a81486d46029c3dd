"""``import skkan`` stays light: no test machinery, data sets or plotting at import time."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["sklearn.utils.estimator_checks", "sklearn.utils._testing", "sklearn.datasets", "matplotlib", "numba"]


def test_import_skkan_loads_no_heavy_modules():
    code = f"import json, sys; import skkan; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_kan_pruner_is_loaded_on_first_use():
    code = (
        "import sys, skkan; lazy = 'skkan._pruner' not in sys.modules; "
        "from skkan import KANPruner; print(lazy, KANPruner.__module__, 'KANPruner' in dir(skkan))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "skkan._pruner", "True"]
