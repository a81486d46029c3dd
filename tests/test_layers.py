"""The package's layers import one way: nn <- symbolic <- engine <- discovery <- estimators.

Every module of ``skkan`` is read (not imported) and each import it makes, at the top
or inside a function, is checked against the layer map below. A new module must be
given a layer here; see docs/contributing.rst for what each layer is for.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skkan"

# Lower numbers are lower layers; a module may import its own layer and those below.
# Subpackages hold their layer whole; every other module is listed by name, so that a
# new module has to be given a layer here.
PACKAGES = {"skkan.nn": 0, "skkan.symbolic": 1, "skkan.discovery": 3}
MODULE_LAYERS = {
    # The engine: training, targets, input scaling, operations on fitted networks, saving.
    "skkan._optim": 2,
    "skkan._progress": 2,
    "skkan._preprocessing": 2,
    "skkan._targets": 2,
    "skkan._training": 2,
    "skkan._least_squares": 2,
    "skkan._operations": 2,
    "skkan._persistence": 2,
    "skkan._additive": 2,
    # The estimators and what only they use (the package itself exports them).
    "skkan": 4,
    "skkan._base": 4,
    "skkan._symbolic_methods": 4,
    "skkan._term_methods": 4,
    "skkan._regressor": 4,
    "skkan._classifier": 4,
    "skkan._pruner": 4,
    "skkan._plot": 4,
    "skkan._symbolic_regressor": 4,
}
LAYER_NAMES = ["nn", "symbolic", "engine", "discovery", "estimators"]

# The core is torch only: usable without scikit-learn and the symbolic stack.
NN_FORBIDDEN = ("sklearn", "scipy", "sympy", "pandas", "joblib")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(module):
    """Layer of a module of skkan, or of a name imported from one (None: not assigned).

    ``skkan._training.train`` is looked up as ``skkan._training``; the package ``skkan``
    itself only matches exactly (importing it loads the estimators).
    """
    for package, layer in PACKAGES.items():
        if module == package or module.startswith(package + "."):
            return layer
    name = module
    while name not in MODULE_LAYERS:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
        if name == "skkan" and module != "skkan":
            first = module.split(".")[1]
            if (PACKAGE / f"{first}.py").exists() or (PACKAGE / first).is_dir():
                return None  # a module of skkan that has no layer yet
            return MODULE_LAYERS["skkan"]  # a name the package exports (skkan.KANRegressor)
    return MODULE_LAYERS[name]


def _imports(path):
    """Absolute names of everything a module imports (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            if node.module:
                yield prefix
            for alias in node.names:
                # "from .. import symbolic" imports the module skkan.symbolic.
                yield f"{prefix}.{alias.name}"


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in MODULES if _layer_of(_module_name(p)) is None]
    assert not missing, f"Give these modules a layer in tests/test_layers.py: {missing}"
    assert _layer_of("skkan.KANRegressor") == MODULE_LAYERS["skkan"]  # from skkan import KANRegressor
    assert _layer_of("skkan._training.train") == MODULE_LAYERS["skkan._training"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_run_from_higher_layers_to_lower_ones(path):
    importer = _module_name(path)
    own = _layer_of(importer)
    upward = []
    for imported in _imports(path):
        if imported.split(".")[0] != "skkan":
            continue
        layer = _layer_of(imported)
        if layer is not None and layer > own:
            upward.append(f"{imported} ({LAYER_NAMES[layer]})")
    assert not upward, f"{importer} ({LAYER_NAMES[own]}) imports a higher layer: {sorted(set(upward))}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "nn").rglob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_neither_sklearn_nor_the_symbolic_stack(path):
    imported = {name.split(".")[0] for name in _imports(path)}
    assert not imported & set(NN_FORBIDDEN)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """A made-up nn module importing the estimators is caught (the test can fail)."""
    fake = PACKAGE / "nn" / "_upward_probe.py"
    source = "def f():\n    from .._regressor import KANRegressor\n    return KANRegressor\n"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == fake else Path.open(self).read())
    with pytest.raises(AssertionError, match="imports a higher layer"):
        test_imports_run_from_higher_layers_to_lower_ones(fake)


def test_a_new_top_level_module_needs_a_layer(monkeypatch):
    """A module file that is not listed is reported, not silently taken as an estimator."""
    probe = PACKAGE / "_unlisted_probe.py"
    monkeypatch.setattr(Path, "exists", lambda self: self == probe or Path.is_file(self) or Path.is_dir(self))
    assert _layer_of("skkan._unlisted_probe") is None
