"""The README's quick start runs as pasted, offline, from a folder outside the clone."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start():
    text = README.read_text()
    section = text[text.index("## Quick start") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quick_start_runs_offline_outside_the_clone(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "SCIKIT_LEARN_DATA"}
    # No data folder and no network: only data that ships with scikit-learn can load.
    environment["SCIKIT_LEARN_DATA"] = str(tmp_path / "no_data_here")
    result = subprocess.run(
        [sys.executable, "-c", _quick_start()], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert 0.8 <= float(lines[0]) <= 1.0  # Iris accuracy
    assert float(lines[1]) > 0.2  # diabetes R^2
    # The equation table is printed whole: its equation column is not elided.
    assert "equation" in lines[3] and "..." not in "\n".join(lines[3:])
    assert "rows x" not in result.stdout


def test_only_install_routes_that_work_are_named():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = README.parent
    for text in (README.read_text(), (root / "docs" / "user_guide.rst").read_text()):
        assert "git+https://github.com/skkan-dev" not in text  # no such repository
        assert "pip install ." in text or "pip install dist/" in text
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert "urls" not in project  # none exist yet
    # No extra that installs nothing new: pandas is a core dependency.
    core = {requirement.split(">")[0].split("=")[0] for requirement in project["dependencies"]}
    for name, requirements in project["optional-dependencies"].items():
        assert {r.split(">")[0].split("=")[0] for r in requirements} - core, f"extra {name!r} adds nothing"
