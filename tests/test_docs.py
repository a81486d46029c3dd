"""The API reference gives every public method and property of each estimator a page.

Building the HTML takes minutes (the gallery runs the examples), so these tests run
only the step that decides which pages exist: autosummary's generation of the
``docs/generated`` sources from ``docs/api.rst``, with the project's own ``conf.py``
and templates, into a temporary folder. A method missing there has no page, and so
no documented parameters, in the built reference.
"""

import inspect
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import skkan
import skkan.nn

pytest.importorskip("sphinx")  # the ``docs`` extra
pytest.importorskip("numpydoc")

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Every class whose methods the reference must document, by its public name.
CLASSES = {
    "skkan.KANRegressor": skkan.KANRegressor,
    "skkan.KANClassifier": skkan.KANClassifier,
    "skkan.KANSymbolicRegressor": skkan.KANSymbolicRegressor,
    "skkan.KANPruner": skkan.KANPruner,
    "skkan.FormulaReport": skkan.FormulaReport,
    "skkan.nn.KAN": skkan.nn.KAN,
    "skkan.nn.KANLayer": skkan.nn.KANLayer,
}


def _expected_pages(cls):
    """Public methods and properties of ``cls`` that need a page of their own.

    For the torch modules, members inherited unchanged from ``torch.nn.Module``
    (``train``, ``parameters``, ...) are PyTorch's to document; members skkan defines
    or overrides are ours. Inherited scikit-learn methods (``score``,
    ``set_params``, ...) are part of the estimators' API and are expected.
    """
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        value = inspect.getattr_static(cls, name)
        if not (callable(getattr(cls, name)) or isinstance(value, property)):
            continue
        if issubclass(cls, torch.nn.Module) and name not in vars(cls) and hasattr(torch.nn.Module, name):
            continue
        names.append(name)
    return names


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Run autosummary's page generation for ``docs/api.rst``.

    Returns the folder of generated sources and Sphinx's warnings (an import
    failure there explains a missing page).
    """
    from sphinx.application import Sphinx

    root = tmp_path_factory.mktemp("docs")
    src = root / "src"
    src.mkdir()
    shutil.copy(DOCS / "api.rst", src / "index.rst")
    shutil.copytree(DOCS / "_templates", src / "_templates")
    # conf.py limits torch to one thread for the gallery; keep the suite's setting.
    n_threads = torch.get_num_threads()
    log = io.StringIO()
    try:
        # The real conf.py (templates, autosummary context, docstring hooks), without
        # sphinx-gallery, which would run the examples. Generation happens when the
        # builder is initialised; nothing is read or written beyond that.
        Sphinx(
            srcdir=src,
            confdir=DOCS,
            outdir=root / "out",
            doctreedir=root / "doctrees",
            buildername="dummy",
            confoverrides={
                "extensions": ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"],
            },
            status=None,
            warning=log,
            freshenv=True,
        )
    finally:
        torch.set_num_threads(n_threads)
    return src / "generated", log.getvalue()


@pytest.mark.parametrize("public_name", sorted(CLASSES))
def test_every_public_method_has_a_page(generated, public_name):
    generated, log = generated
    assert (generated / f"{public_name}.rst").is_file(), log
    missing = [
        name
        for name in _expected_pages(CLASSES[public_name])
        if not (generated / f"{public_name}.{name}.rst").is_file()
    ]
    assert not missing, f"{public_name}: no API page for {missing}\n{log}"


def test_torch_module_members_are_left_to_pytorch(generated):
    # skkan.nn's modules inherit dozens of torch.nn.Module members; pages for them
    # would repeat PyTorch's documentation.
    generated, _ = generated
    for name in ("train", "parameters", "state_dict", "training", "T_destination"):
        assert not (generated / f"skkan.nn.KAN.{name}.rst").exists(), name


def test_method_pages_document_the_method(generated):
    # A page must hold the method's own entry (its docstring and parameters), not
    # just a title.
    generated, _ = generated
    page = (generated / "skkan.KANRegressor.auto_symbolic.rst").read_text()
    assert ".. automethod:: KANRegressor.auto_symbolic" in page
    assert "r2_threshold" in inspect.getdoc(skkan.KANRegressor.auto_symbolic)


def test_expected_pages_cover_the_documented_operations():
    # Guard the introspection above against silently expecting nothing.
    assert {
        "fit",
        "predict",
        "partial_fit",
        "auto_symbolic",
        "prune",
        "refine",
        "get_formula",
        "plot",
        "suggest_symbolic",
        "fix_symbolic",
        "unfix_symbolic",
        "evaluate_formula",
        "formula_report",
        "score",
    } <= set(_expected_pages(skkan.KANRegressor))
    assert {"predict_proba", "predict_log_proba", "decision_function"} <= set(_expected_pages(skkan.KANClassifier))
    kan = set(_expected_pages(skkan.nn.KAN))
    assert "forward" in kan and "train" not in kan and "parameters" not in kan


def _documented_attributes(cls):
    from numpydoc.docscrape import ClassDoc

    names = set()
    for entry in ClassDoc(cls, config={"show_class_members": False})["Attributes"]:
        names.update(part.strip() for part in entry.name.split(","))
    return names


def test_fitted_attributes_are_documented():
    # Public fitted attributes appear in the class docstring's Attributes section,
    # or are properties with a docstring (which get a page of their own above).
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 3))
    y_reg = X[:, 0] ** 2 + X[:, 1]
    y_clf = (X[:, 0] > 0).astype(int)
    estimators = [
        (skkan.KANRegressor(max_iter=5, random_state=0), y_reg),
        (skkan.KANClassifier(max_iter=5, random_state=0), y_clf),
        (skkan.KANPruner(random_state=0), y_reg),
        (skkan.KANSymbolicRegressor(random_state=0), y_reg),
    ]
    for estimator, y in estimators:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short fits do not converge
            estimator.fit(X, y)
        cls = type(estimator)
        documented = _documented_attributes(cls)
        for name in vars(estimator):
            if not name.endswith("_") or name.startswith("_") or name in documented:
                continue
            value = inspect.getattr_static(cls, name, None)
            assert isinstance(value, property) and value.__doc__, f"{cls.__name__}.{name} is not documented"
        for name in dir(cls):
            value = inspect.getattr_static(cls, name, None)
            if isinstance(value, property) and not name.startswith("_"):
                assert name in documented or value.__doc__, f"{cls.__name__}.{name} is not documented"
