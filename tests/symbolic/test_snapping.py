"""Manual snapping of one edge: suggest_symbolic, fix_symbolic, unfix_symbolic."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from skkan import KANClassifier, KANRegressor
from skkan.symbolic import LIBRARY, SymbolicFunction

COLUMNS = ["function", "r2", "complexity", "score", "a", "b", "c", "d"]

# Cheap candidates for the sin edge (the full library costs more).
SIN_LIBRARY = ["x", "x^3", "sin", "cos", "tanh"]


def _data(law, seed=0, n_rows=500):
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n_rows, 2))
    return X, law(X)


def _sin_and_square(X):
    return np.sin(2 * X[:, 0]) + X[:, 1] ** 2


def _regressor():
    # Exact data: every row trains (early_stopping="auto" would hold out a tenth of 500).
    return KANRegressor(
        hidden_layer_sizes=(), grid_size=5, solver="lbfgs", max_iter=100, early_stopping=False, random_state=0
    )


@pytest.fixture(scope="module")
def fitted():
    """A single-layer model of sin(2 x0) + x1**2: edge (0, 0, 0) is the sin, (0, 0, 1) the square."""
    X, y = _data(_sin_and_square)
    return _regressor().fit(X, y), X


@pytest.fixture
def reg(fitted):
    """A private copy of the fitted model, free to change."""
    model, X = fitted
    return copy.deepcopy(model), X


@pytest.fixture(scope="module")
def square_suggestions(fitted):
    """suggest_symbolic with the whole library on the x1 edge (computed once)."""
    model, X = fitted
    before = model.predict(X)
    # One thread: on a busy 2-core machine the many tiny torch operations of the fit
    # run about 20x slower with two threads (the results do not depend on it).
    with threadpool_limits(limits=1):
        table = model.suggest_symbolic(0, 0, 1)
    return table, before, model.predict(X)


def _snapshot(model, X):
    return (
        model.predict(X),
        {index: dict(layer.symbolic_functions) for index, layer in enumerate(model.module_.layers)},
        copy.deepcopy(getattr(model, "symbolic_fits_", None)),
        [layer.mask.clone() for layer in model.module_.layers],
    )


def _assert_untouched(model, X, snapshot):
    predictions, functions, fits, masks = snapshot
    np.testing.assert_array_equal(model.predict(X), predictions)
    assert {index: dict(layer.symbolic_functions) for index, layer in enumerate(model.module_.layers)} == functions
    assert getattr(model, "symbolic_fits_", None) == fits
    for layer, mask in zip(model.module_.layers, masks):
        assert bool((layer.mask == mask).all())


def _has_square_of(expression, symbol):
    return any(
        isinstance(node, sympy.Pow)
        and node.exp.is_number
        and float(node.exp) == 2.0
        and symbol in node.base.free_symbols
        for node in sympy.preorder_traversal(expression)
    )


# ---------------------------------------------------------------- suggest_symbolic
def test_suggest_returns_a_ranked_table_of_the_whole_library(square_suggestions):
    """One row per library function, the documented columns, sorted by score."""
    table, _, _ = square_suggestions
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == COLUMNS
    assert sorted(table["function"]) == sorted(LIBRARY)
    assert table["function"].is_unique
    assert table["score"].is_monotonic_increasing
    assert np.isfinite(table[["r2", "score", "a", "b", "c", "d"]].to_numpy(dtype=float)).all()


def test_suggest_finds_the_square(square_suggestions):
    """The x1 edge of sin(2 x0) + x1**2 is best matched by x^2."""
    table, _, _ = square_suggestions
    top = table.iloc[0]
    assert top["function"] == "x^2"
    assert top["r2"] > 0.99
    assert top["complexity"] == LIBRARY["x^2"].complexity


def test_suggest_finds_the_sine(fitted):
    """The x0 edge is matched by sin (or its twin cos) with R^2 > 0.99."""
    model, _ = fitted
    with threadpool_limits(limits=1):  # see square_suggestions
        table = model.suggest_symbolic(0, 0, 0, library=SIN_LIBRARY)
    assert sorted(table["function"]) == sorted(SIN_LIBRARY)
    top_two = table.iloc[:2]
    assert "sin" in list(top_two["function"])
    assert float(table.loc[table["function"] == "sin", "r2"].iloc[0]) > 0.99
    assert float(table.loc[table["function"] == "x", "r2"].iloc[0]) < 0.99


def test_suggest_does_not_change_the_model(square_suggestions, fitted):
    """suggest_symbolic leaves predictions and edges as they were."""
    _, before, after = square_suggestions
    np.testing.assert_array_equal(before, after)
    model, _ = fitted
    assert all(not layer.symbolic_functions for layer in model.module_.layers)
    assert not hasattr(model, "symbolic_fits_")


def test_suggest_weight_simple_changes_scores(fitted):
    """weight_simple reweights the ranking: at 1 only complexity counts."""
    model, _ = fitted
    table = model.suggest_symbolic(0, 0, 1, library=["x", "x^2", "x^4"], weight_simple=1.0)
    # Only a tie-break of 1e-3 per unit of shift |b| is added to the complexity.
    np.testing.assert_allclose(table["score"], table["complexity"], rtol=0, atol=1e-2)
    assert list(table["function"]) == ["x", "x^2", "x^4"]


def test_suggest_on_unfitted_model_raises():
    """An unfitted estimator raises NotFittedError."""
    with pytest.raises(NotFittedError):
        _regressor().suggest_symbolic(0, 0, 0)
    with pytest.raises(NotFittedError):
        _regressor().fix_symbolic(0, 0, 0, "x")
    with pytest.raises(NotFittedError):
        _regressor().unfix_symbolic(0, 0, 0)


# ---------------------------------------------------------------- fix / unfix
def test_fix_and_unfix_the_square(reg, square_suggestions):
    """fix_symbolic snaps the edge with the suggested fit; unfix_symbolic restores the spline."""
    model, X = reg
    table, _, _ = square_suggestions
    before = model.predict(X)
    assert model.fix_symbolic(0, 0, 1, "x^2") is model
    layer = model.module_.layers[0]
    assert set(layer.symbolic_functions) == {(0, 1)}
    assert layer.symbolic_functions[(0, 1)].name == "x^2"
    after = model.predict(X)
    assert r2_score(before, after) > 0.99

    suggested = table.loc[table["function"] == "x^2"].iloc[0]
    affine = layer.symbolic_affine[0, 1].detach().double().numpy()
    np.testing.assert_allclose(affine, suggested[["a", "b", "c", "d"]].to_numpy(dtype=float), rtol=1e-6, atol=1e-9)
    assert len(model.symbolic_fits_) == 1
    record = model.symbolic_fits_[0]
    assert (record["layer"], record["output"], record["input"], record["function"]) == (0, 0, 1, "x^2")
    assert record["r2"] == pytest.approx(float(suggested["r2"]), rel=1e-6)

    with pytest.warns(UserWarning, match="spline"):
        formula = model.get_formula()
    x0, x1 = sympy.symbols("x0 x1")
    assert _has_square_of(formula, x1)
    assert not _has_square_of(formula, x0)

    assert model.unfix_symbolic(0, 0, 1) is model
    assert (0, 1) not in model.module_.layers[0].symbolic_functions
    assert model.symbolic_fits_ == []
    np.testing.assert_allclose(model.predict(X), before, rtol=0, atol=1e-6)


def test_fixing_again_replaces_the_record(reg):
    """Fixing an edge twice keeps one record, for the latest function."""
    model, _ = reg
    model.fix_symbolic(0, 0, 1, "x^2").fix_symbolic(0, 0, 1, "x^4")
    assert model.module_.layers[0].symbolic_functions[(0, 1)].name == "x^4"
    assert [(r["input"], r["function"]) for r in model.symbolic_fits_] == [(1, "x^4")]


def test_fix_with_a_user_function(reg):
    """{"sq": "x**2"} snaps the square edge as well as the built-in x^2."""
    model, X = reg
    before = model.predict(X)
    model.fix_symbolic(0, 0, 1, {"sq": "x**2"})
    function = model.module_.layers[0].symbolic_functions[(0, 1)]
    assert function.name == "sq"
    assert model.symbolic_fits_[-1]["function"] == "sq"
    assert model.symbolic_fits_[-1]["r2"] > 0.99
    assert r2_score(before, model.predict(X)) > 0.99


def test_fix_with_a_symbolic_function_object(reg):
    """A SymbolicFunction object is accepted as the function."""
    model, X = reg
    before = model.predict(X)
    model.fix_symbolic(0, 0, 0, SymbolicFunction("sine", "sin(x)"))
    assert model.module_.layers[0].symbolic_functions[(0, 0)].name == "sine"
    assert r2_score(before, model.predict(X)) > 0.99


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda m: m.suggest_symbolic(1, 0, 0), IndexError),
        (lambda m: m.suggest_symbolic(-1, 0, 0), IndexError),
        (lambda m: m.fix_symbolic(0, 1, 0, "x"), IndexError),
        (lambda m: m.fix_symbolic(0, 0, 2, "x"), IndexError),
        (lambda m: m.unfix_symbolic(0, 0, -1), IndexError),
        (lambda m: m.suggest_symbolic(0.0, 0, 0), TypeError),
        (lambda m: m.fix_symbolic(0, "0", 1, "x"), TypeError),
        (lambda m: m.fix_symbolic(0, 0, True, "x"), TypeError),
        (lambda m: m.fix_symbolic(0, 0, 1, "sinh"), ValueError),
        (lambda m: m.fix_symbolic(0, 0, 1, {"p": "x**2", "q": "x**3"}), ValueError),
        (lambda m: m.fix_symbolic(0, 0, 1, ["x", "x^2"]), TypeError),
        (lambda m: m.unfix_symbolic(0, 0, 1), ValueError),
    ],
    ids=[
        "layer-too-large",
        "layer-negative",
        "out-too-large",
        "in-too-large",
        "in-negative",
        "float-index",
        "string-index",
        "bool-index",
        "unknown-name",
        "two-functions",
        "list-of-names",
        "unfix-spline-edge",
    ],
)
def test_bad_calls_raise_and_leave_the_model_untouched(reg, call, error):
    """Bad indices, types, names and unfixing a spline edge raise without changing anything."""
    model, X = reg
    snapshot = _snapshot(model, X)
    with pytest.raises(error):
        call(model)
    _assert_untouched(model, X, snapshot)


def test_failed_fix_keeps_an_earlier_fix(reg):
    """An error on a second call leaves the first fix as it was."""
    model, X = reg
    model.fix_symbolic(0, 0, 1, "x^2")
    snapshot = _snapshot(model, X)
    with pytest.raises(ValueError):
        model.fix_symbolic(0, 0, 1, "no_such_function")
    _assert_untouched(model, X, snapshot)


def test_function_that_cannot_be_fitted_raises(reg):
    """A function whose argument must leave its domain over the edge's inputs raises ValueError.

    log without a shift (b fixed at 0) cannot be applied to standardised inputs,
    which cross zero.
    """
    model, X = reg
    unshifted_log = SymbolicFunction("log_no_shift", "log(x)", fit="shift_free", domain=lambda low, high: low > 0)
    snapshot = _snapshot(model, X)
    with pytest.raises(ValueError, match="domain"):
        model.fix_symbolic(0, 0, 1, unshifted_log)
    _assert_untouched(model, X, snapshot)


@pytest.mark.parametrize("name", ["log", "sqrt"])
def test_builtin_log_and_sqrt_are_shifted_into_their_domain(reg, name):
    """Built-in log/sqrt on inputs that cross zero are fitted with a shifted argument that stays in the domain."""
    model, X = reg
    inputs = model._attribution_data[:, 1].double()
    assert inputs.min() < 0 < inputs.max()
    model.fix_symbolic(0, 0, 1, name)
    a, b, _, _ = model.module_.layers[0].symbolic_affine[0, 1].detach().double().tolist()
    argument = a * inputs + b
    assert float(argument.min()) > 0
    assert np.isfinite(model.predict(X)).all()
    # A poor match is reported as such.
    assert model.symbolic_fits_[-1]["r2"] < 0.9


def test_pruned_edge_raises():
    """suggest, fix and unfix refuse an edge that prune removed."""
    X, y = _data(lambda X: np.sin(2 * X[:, 0]))
    model = _regressor().fit(X, y)
    model.prune(edge_threshold=0.05)
    mask = model.module_.layers[0].mask
    assert float(mask[0, 0]) > 0 and float(mask[0, 1]) == 0
    snapshot = _snapshot(model, X)
    for call in (
        lambda: model.suggest_symbolic(0, 0, 1),
        lambda: model.fix_symbolic(0, 0, 1, "x"),
        lambda: model.unfix_symbolic(0, 0, 1),
    ):
        with pytest.raises(ValueError, match="pruned"):
            call()
    _assert_untouched(model, X, snapshot)


# ---------------------------------------------------------------- pickling
@pytest.mark.parametrize("function", ["x^2", {"sq": "x**2"}], ids=["builtin", "user"])
def test_pickle_round_trip_after_fix(reg, function):
    """A model with a fixed edge (built-in or user function) predicts identically after pickling."""
    model, X = reg
    model.fix_symbolic(0, 0, 1, function)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.symbolic_fits_ == model.symbolic_fits_
    assert set(restored.module_.layers[0].symbolic_functions) == {(0, 1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # Spline placeholders are new sympy functions on every call: compare the text.
        assert str(restored.get_formula()) == str(model.get_formula())


# ---------------------------------------------------------------- classifier
def test_classifier_suggest_and_fix():
    """On iris, suggest_symbolic returns a table and fixing the top function keeps accuracy."""
    X, y = load_iris(return_X_y=True)
    clf = KANClassifier(hidden_layer_sizes=(), grid_size=5, max_iter=50, random_state=0).fit(X, y)
    accuracy = clf.score(X, y)
    probabilities = clf.predict_proba(X)
    library = ["x", "x^2", "tanh", "0"]
    table = clf.suggest_symbolic(0, 0, 2, library=library)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == COLUMNS
    assert sorted(table["function"]) == sorted(library)
    assert table["score"].is_monotonic_increasing
    np.testing.assert_array_equal(clf.predict_proba(X), probabilities)

    best = table["function"].iloc[0]
    assert clf.fix_symbolic(0, 0, 2, best) is clf
    assert clf.module_.layers[0].symbolic_functions[(0, 2)].name == best
    assert abs(clf.score(X, y) - accuracy) <= 0.1

    clf.unfix_symbolic(0, 0, 2)
    np.testing.assert_allclose(clf.predict_proba(X), probabilities, rtol=0, atol=1e-6)


def test_readable_fits_reject_many_periods_and_steps():
    import torch

    from skkan.symbolic._snapping import MAX_PERIODS, readable_fits

    entries = [LIBRARY["sin"], LIBRARY["tanh"], LIBRARY["x^2"]]
    spans = torch.tensor([2.0, 2.0], dtype=torch.float64)
    params = torch.zeros(2, 3, 4, dtype=torch.float64)
    params[0, :, 0] = 1.0  # gentle: a third of a period, a slope of 2 over the range
    params[1, :, 0] = 40.0  # 12.7 periods over the range; tanh jumps in 1/40 of it
    readable = readable_fits(entries, params, spans)
    assert readable[0].all()
    assert readable[1].tolist() == [False, False, True]
    params[1, 0, 0] = MAX_PERIODS * 2 * np.pi / 2.0  # exactly two periods
    assert readable_fits(entries, params, spans)[1, 0]


@pytest.mark.parametrize("seed", range(3))
def test_auto_symbolic_keeps_a_fast_oscillation_a_spline_unless_asked(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(600, 1))
    y = np.sin(20 * X[:, 0])  # more than six periods over the data
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=40, max_iter=300, random_state=seed).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        readable = copy.deepcopy(reg).auto_symbolic(X, y, library=["x", "sin", "tanh", "x^2"])
        raw = copy.deepcopy(reg).auto_symbolic(X, y, library=["x", "sin", "tanh", "x^2"], readable=False)
    assert readable.symbolic_fits_[0]["function"] is None
    assert "spline" in str(readable.get_formula())
    assert raw.symbolic_fits_[0]["function"] == "sin"
