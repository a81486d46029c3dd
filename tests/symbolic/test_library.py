"""The symbolic library and the fit of c * f(a * x + b) + d (skkan.symbolic)."""

import math
import pickle

import numpy as np
import pytest
import sympy
import torch

from skkan.symbolic import LIBRARY, SymbolicFunction, fit_symbolic, make_library, rank_candidates

REQUIRED = ["x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "abs", "arctan", "arcsin", "gaussian", "0"]


def _domain_points(name):
    if name in ("log", "sqrt"):
        return np.linspace(0.1, 3.0, 50)
    if name in ("1/x", "1/x^2"):
        return np.concatenate([np.linspace(-3, -0.2, 25), np.linspace(0.2, 3, 25)])
    if name == "arcsin":
        return np.linspace(-0.99, 0.99, 50)
    if name == "tan":
        return np.linspace(-1.4, 1.4, 50)
    return np.linspace(-3, 3, 50)


def test_library_has_the_required_functions():
    assert set(REQUIRED) <= set(LIBRARY)
    assert [entry.name for entry in make_library()] == list(LIBRARY)


@pytest.mark.parametrize("name", REQUIRED)
def test_torch_numpy_and_sympy_forms_agree(name):
    entry = LIBRARY[name]
    z = _domain_points(name)
    from_torch = entry.torch_function()(torch.as_tensor(z)).numpy()
    from_numpy = entry.numpy_function()(z)
    symbol = sympy.Symbol("z")
    from_sympy = np.broadcast_to(sympy.lambdify(symbol, entry.sympy(symbol), "numpy")(z), z.shape)
    np.testing.assert_allclose(from_torch, from_numpy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(from_sympy, from_numpy, rtol=1e-12, atol=1e-12)


CURVES = {
    "x": lambda x: 3 * x + 1,
    "x^2": lambda x: 0.7 * (x - 0.4) ** 2 + 1,
    "x^3": lambda x: (x - 0.5) ** 3,
    "x^4": lambda x: (0.5 * x + 0.2) ** 4,
    "1/x": lambda x: 1 / (x + 2.6),
    "sqrt": lambda x: np.sqrt(x + 2.2),
    "exp": lambda x: 2 * np.exp(-0.8 * x) + 0.1,
    "log": lambda x: 0.5 * np.log(x + 2.5),
    "sin": lambda x: 1.5 * np.sin(2.0 * x + 0.5) - 0.3,
    "cos": lambda x: np.cos(1.2 * x),
    "tan": lambda x: np.tan(0.4 * x),
    "tanh": lambda x: np.tanh(1.3 * x - 0.2),
    "abs": lambda x: np.abs(x - 1),
    "arctan": lambda x: np.arctan(2 * x),
    "gaussian": lambda x: np.exp(-((0.9 * x - 0.3) ** 2)),
}


def test_fit_recovers_every_function_and_ranks_it_first():
    library = make_library()
    names = [entry.name for entry in library]
    x = np.linspace(-2, 3, 128)
    curves = torch.as_tensor(np.stack([f(x) for f in CURVES.values()]))
    fit = fit_symbolic(torch.as_tensor(x).expand(len(CURVES), -1), curves, library)
    best = rank_candidates(fit, library).argmin(1)
    for row, (name, curve) in enumerate(CURVES.items()):
        k = names.index(name)
        assert names[int(best[row])] == name
        assert fit.r2[row, k] > 1 - 1e-9, name
        a, b, c, d = fit.params[row, k].tolist()
        rebuilt = c * LIBRARY[name].numpy_function()(a * x + b) + d
        np.testing.assert_allclose(rebuilt, curve(x), atol=1e-5, err_msg=name)


def test_fit_parameters_are_canonical():
    x = torch.linspace(-1, 1, 64, dtype=torch.float64)
    curves = torch.stack([-torch.sin(-2 * x + 0.3), torch.sin(2 * x + math.pi + 0.1), 3 * (2 * x + 1) ** 2])
    library = [LIBRARY["sin"], LIBRARY["x^2"]]
    fit = fit_symbolic(x.expand(3, -1), curves, library)
    a, b, c, _ = fit.params[0, 0].tolist()  # sin(2x - 0.3): a > 0, |b| <= pi / 2
    assert a == pytest.approx(2, abs=1e-6) and b == pytest.approx(-0.3, abs=1e-6) and c == pytest.approx(1, abs=1e-6)
    a, b, c, _ = fit.params[1, 0].tolist()  # sin(2x + pi + 0.1) = -sin(2x + 0.1)
    assert a == pytest.approx(2, abs=1e-6) and b == pytest.approx(0.1, abs=1e-6) and c == pytest.approx(-1, abs=1e-6)
    a, b, c, _ = fit.params[2, 1].tolist()  # 3 (2x + 1)^2 = 12 (x + 0.5)^2
    assert a == pytest.approx(1) and b == pytest.approx(0.5, abs=1e-6) and c == pytest.approx(12, abs=1e-5)


def test_singular_candidates_stay_inside_their_domain():
    """Curves over a range containing 0: log, sqrt, 1/x, arcsin fits must not cross a pole."""
    x = torch.linspace(-1, 1, 128, dtype=torch.float64)
    curves = torch.stack([torch.sin(3 * x), x**2, torch.exp(x)])
    library = [LIBRARY[name] for name in ("log", "sqrt", "1/x", "1/x^2", "arcsin", "tan")]
    fit = fit_symbolic(x.expand(3, -1), curves, library)
    assert torch.all(torch.isfinite(fit.r2) | (fit.r2 == -math.inf))
    assert not torch.isnan(fit.params).any()
    for k, entry in enumerate(library):
        a, b = fit.params[:, k, 0], fit.params[:, k, 1]
        ends = torch.stack([-a + b, a + b])
        low, high = ends.min(0).values, ends.max(0).values
        valid = torch.isfinite(fit.r2[:, k])
        if entry.name == "log":
            assert torch.all(low[valid] > 0)
        elif entry.name == "sqrt":
            assert torch.all(low[valid] >= 0)
        elif entry.name in ("1/x", "1/x^2"):
            assert torch.all((low[valid] > 0) | (high[valid] < 0))
        elif entry.name == "arcsin":
            assert torch.all((low[valid] >= -1) & (high[valid] <= 1))
        elif entry.name == "tan":
            assert torch.all(low[valid] > -math.pi / 2) and torch.all(high[valid] < math.pi / 2)


def test_degenerate_fits_lose_to_the_simple_function():
    """x**2 is not written as -93 cos(0.15 x) + 93, nor 2x as 52 sin(0.038 x)."""
    x = torch.linspace(-1.7, 1.7, 128, dtype=torch.float64)
    curves = torch.stack([x**2 + 1e-4 * x**4, 2 * x + 1e-4 * x**3])
    library = make_library()
    best = rank_candidates(fit_symbolic(x.expand(2, -1), curves, library), library).argmin(1)
    assert [library[int(k)].name for k in best] == ["x^2", "x"]


def test_constant_curve_is_fitted_exactly_by_zero():
    x = torch.linspace(0, 1, 32, dtype=torch.float64)
    fit = fit_symbolic(x[None], torch.full((1, 32), 2.5, dtype=torch.float64), make_library())
    library = make_library()
    best = int(rank_candidates(fit, library).argmin(1))
    assert library[best].name == "0"
    assert torch.all(fit.r2 == 1) and torch.all(fit.params[0, :, 2] == 0)
    assert fit.params[0, best, 3] == pytest.approx(2.5)


def test_make_library_accepts_names_objects_and_expressions():
    sinh = SymbolicFunction("sinh", "sinh(x)", complexity=3, parity="odd")
    library = make_library(["x", "sin", sinh])
    assert [entry.name for entry in library] == ["x", "sin", "sinh"]
    library = make_library({"cosh": sympy.cosh(sympy.Symbol("x")), "sigmoid": "1/(1 + exp(-x))"})
    assert [entry.name for entry in library] == ["cosh", "sigmoid"]
    z = torch.linspace(-2, 2, 9, dtype=torch.float64)
    np.testing.assert_allclose(library[1].torch_function()(z).numpy(), 1 / (1 + np.exp(-z.numpy())))
    np.testing.assert_allclose(library[1].numpy_function()(z.numpy()), 1 / (1 + np.exp(-z.numpy())))
    with pytest.raises(ValueError, match="Unknown symbolic function"):
        make_library(["sine"])
    with pytest.raises(ValueError, match="repeated"):
        make_library(["sin", "sin"])
    with pytest.raises(ValueError, match="empty"):
        make_library([])


def test_user_function_is_fitted_and_pickles():
    sinh = SymbolicFunction("sinh", "sinh(x)", complexity=2, parity="odd")
    x = torch.linspace(-1, 1, 64, dtype=torch.float64)
    curve = 0.5 * torch.sinh(1.5 * x - 0.2) + 1
    library = make_library(["x", "x^3", sinh])
    fit = fit_symbolic(x[None], curve[None], library)
    assert library[int(rank_candidates(fit, library).argmin())].name == "sinh"
    assert fit.r2[0, 2] > 1 - 1e-9
    restored = pickle.loads(pickle.dumps(sinh))  # the lambdified torch form is rebuilt
    np.testing.assert_allclose(restored.torch_function()(x).numpy(), torch.sinh(x).numpy())
