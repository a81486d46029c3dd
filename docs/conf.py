"""Sphinx configuration for skkan (numpydoc docstrings, sphinx-gallery examples).

Build: ``sphinx-build -W -b html docs docs/_build/html`` (the ``docs`` extra). The build
needs no network: links into the Python, scikit-learn and PyTorch docs (intersphinx)
are made only when ``SKKAN_DOCS_INTERSPHINX=1`` is set; otherwise such references
render as plain code.
"""

import os
import sys
from pathlib import Path

# Document the skkan of this checkout, whatever an editable install elsewhere says.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import skkan  # noqa: E402

# sphinx-gallery runs the examples in this process. They are small: on a busy
# two-core machine a second torch thread only adds contention (the physics-informed
# example ran ~20x slower with two threads than with one).
torch.set_num_threads(1)

project = "skkan"
author = "skkan developers"
release = version = skkan.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
if os.environ.get("SKKAN_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
    }
autosummary_generate = True
numpydoc_show_class_members = False
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
}
exclude_patterns = ["_build"]
html_theme = "alabaster"
