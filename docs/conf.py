"""Sphinx configuration for skkan (numpydoc docstrings, sphinx-gallery examples).

Build: ``sphinx-build -W -b html docs docs/_build/html`` (the ``docs`` extra). The build
needs no network: links into the Python, scikit-learn and PyTorch docs (intersphinx)
are made only when ``SKKAN_DOCS_INTERSPHINX=1`` is set; otherwise such references
render as plain code.
"""

import os
import re
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
# The estimator classes use templates_path's class_with_members.rst: one page per
# method and property. skkan's torch modules inherit dozens of torch.nn.Module
# methods; the template leaves those unchanged ones to PyTorch's documentation.
templates_path = ["_templates"]
# Annotation-only members (``training``) are not in dir() but autosummary lists them.
autosummary_context = {
    "torch_module_members": sorted(set(dir(torch.nn.Module)) | set(torch.nn.Module.__annotations__)),
}
numpydoc_show_class_members = False
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
}
exclude_patterns = ["_build"]
html_theme = "alabaster"


# The estimator pages document inherited scikit-learn methods (get_params,
# set_output, set_fit_request, ...). Their docstrings cross-reference labels and
# glossary terms of scikit-learn's own documentation, which exist here only through
# intersphinx; offline each would be an undefined-label warning, an error under -W.
_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<([^`>]+)>|([^`<>]+))`")
_SKLEARN_TERM = re.compile(r":term:`(?:([^`<]*?)\s*<[^`>]+>|([^`<>]+))`")


def _sklearn_ref_as_text(match):
    title, _, label = match.groups()
    if title:
        # "the User Guide" alone would read as skkan's own guide.
        return f"{title} (scikit-learn)" if "guide" in title.lower() else title
    return f"``{label}`` in scikit-learn's documentation"


def _unlink_sklearn_references(app, what, name, obj, options, lines):
    """Write scikit-learn's cross-references in inherited docstrings as plain text."""
    if not (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        line = _SKLEARN_REF.sub(_sklearn_ref_as_text, line)
        lines[i] = _SKLEARN_TERM.sub(lambda m: m.group(1) or m.group(2), line)


def setup(app):
    if "sphinx.ext.intersphinx" not in extensions:
        # Before numpydoc (priority 500) parses the docstring.
        app.connect("autodoc-process-docstring", _unlink_sklearn_references, priority=400)
