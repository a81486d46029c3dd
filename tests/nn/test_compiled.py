"""The numba kernels give the torch formulation's basis and gradients, wherever they apply."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from skkan.nn import KANLayer, _compiled, bspline_basis, make_extended_grid
from skkan.nn.basis import spline_tables

pytest.importorskip("numba")


@pytest.fixture
def eager(monkeypatch):
    """Run a block on the torch formulation only."""

    class Switch:
        def __enter__(self):
            monkeypatch.setenv("SKKAN_COMPILED_KERNELS", "0")

        def __exit__(self, *exc):
            monkeypatch.setenv("SKKAN_COMPILED_KERNELS", "1")

    return Switch()


def _grid(n_inputs, grid_size, spline_order, rng, repeated=False):
    interior = np.sort(rng.uniform(-2, 2, size=(n_inputs, grid_size + 1)), axis=1)
    if repeated and grid_size >= 3:
        interior[:, 2] = interior[:, 1]  # a zero-width interval
        interior[0, :] = np.linspace(-1, 1, grid_size + 1)  # and a uniform input
    return make_extended_grid(torch.tensor(interior), spline_order)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("spline_order", [1, 2, 3, 5])
@pytest.mark.parametrize("grid_size", [1, 4, 25])
def test_compiled_basis_and_gradient_equal_the_torch_formulation(dtype, spline_order, grid_size, eager):
    rng = np.random.default_rng(100 * spline_order + grid_size)
    grid = _grid(6, grid_size, spline_order, rng, repeated=True).to(dtype)
    tables = spline_tables(grid, spline_order, dtype=dtype)
    # 3000 rows x 6 inputs: above MIN_ELEMENTS; a third of the values lie beyond the
    # grid (the linear tails).
    x = torch.tensor(rng.normal(0, 2.0, size=(3000, 6)), dtype=dtype)
    assert _compiled.usable(x, tables)
    weights = torch.tensor(rng.normal(size=(3000, 6, grid_size + spline_order)), dtype=dtype)

    def basis_and_gradient():
        inputs = x.clone().requires_grad_()
        basis = bspline_basis(inputs, grid, spline_order, tables=tables)
        (gradient,) = torch.autograd.grad((basis * weights).sum(), inputs)
        return basis.detach(), gradient

    compiled_basis, compiled_gradient = basis_and_gradient()
    with eager:
        assert not _compiled.usable(x, tables)
        torch_basis, torch_gradient = basis_and_gradient()
    tolerance = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(compiled_basis, torch_basis, atol=tolerance, rtol=tolerance)
    scale = torch_gradient.abs().max().item()
    torch.testing.assert_close(compiled_gradient, torch_gradient, atol=tolerance * 10 * scale, rtol=0)
    # Outside the grid the bases continue linearly, so they do not sum to 1 there;
    # inside they do (partition of unity).
    inside = (x >= tables.low) & (x <= tables.high)
    sums = compiled_basis.sum(-1)[inside]
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=tolerance * 10, rtol=0)


def test_higher_derivatives_stay_exact_through_the_compiled_forward():
    """A physics-informed loss takes d2/dx2 of a layer whose forward was compiled."""
    rng = np.random.default_rng(0)
    layer = KANLayer(8, 3, grid_size=6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.tensor(rng.uniform(-0.9, 0.9, size=(1024, 8)), requires_grad=True)
    assert _compiled.usable(x, layer.tables(torch.float64))
    (first,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    step = 1e-4
    numeric = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(8):
            shift = torch.zeros_like(x)
            shift[:, i] = step
            numeric[:, i] = (layer(x + shift).sum(1) - 2 * layer(x).sum(1) + layer(x - shift).sum(1)) / step**2
    torch.testing.assert_close(second, numeric, atol=1e-4, rtol=1e-4)


def test_small_batches_and_other_devices_use_torch():
    grid = _grid(4, 5, 3, np.random.default_rng(2))
    tables = spline_tables(grid.float(), 3, dtype=torch.float32)
    assert not _compiled.usable(torch.zeros(10, 4), tables)  # below MIN_ELEMENTS
    assert _compiled.usable(torch.zeros(_compiled.MIN_ELEMENTS // 4, 4), tables)
    assert not _compiled.usable(torch.zeros(_compiled.MIN_ELEMENTS, 4, dtype=torch.float64), tables)  # dtype
    assert not _compiled.usable(torch.zeros(_compiled.MIN_ELEMENTS, 4, dtype=torch.float16), tables)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(3)
    layer = KANLayer(8, 4, grid_size=5, generator=torch.Generator().manual_seed(0))
    wide = torch.tensor(rng.normal(size=(2000, 16)), dtype=torch.float32)
    strided = wide[:, ::2]
    assert not strided.is_contiguous()
    assert _compiled.usable(strided, layer.tables(torch.float32))
    torch.testing.assert_close(layer.basis(strided), layer.basis(strided.contiguous()), atol=0, rtol=0)


def test_environment_variable_switches_the_kernels_off():
    code = (
        "import torch, sys; from skkan.nn import KANLayer; "
        "KANLayer(8, 4)(torch.zeros(4096, 8)); print('numba' in sys.modules)"
    )
    for setting, imported in (("0", "False"), ("1", "True")):
        env = {**os.environ, "SKKAN_COMPILED_KERNELS": setting}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert result.stdout.strip() == imported


def test_estimator_fits_through_the_kernels_and_matches_the_torch_path(monkeypatch):
    """A fit large enough for the kernels uses them and learns what the torch path learns."""
    from skkan import KANRegressor

    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, size=(3000, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * X[:, 3]
    calls = []
    original = _compiled.basis_forward

    def counting(x, tables):
        calls.append(x.shape)
        return original(x, tables)

    monkeypatch.setattr(_compiled, "basis_forward", counting)
    compiled = KANRegressor(hidden_layer_sizes=(4,), max_iter=60, random_state=0).fit(X, y)
    assert calls, "the fit never reached the compiled kernels"
    monkeypatch.setenv("SKKAN_COMPILED_KERNELS", "0")
    calls.clear()
    eager = KANRegressor(hidden_layer_sizes=(4,), max_iter=60, random_state=0).fit(X, y)
    assert not calls
    # Rounding differs between the paths, and training amplifies it; both must learn
    # the function, and nearly the same one.
    X_test = rng.uniform(-2, 2, size=(2000, 4))
    y_test = np.sin(2 * X_test[:, 0]) + X_test[:, 1] * X_test[:, 2] + 0.1 * X_test[:, 3]
    assert compiled.score(X_test, y_test) > 0.95 and eager.score(X_test, y_test) > 0.95
    assert np.corrcoef(compiled.predict(X_test), eager.predict(X_test))[0, 1] > 0.99


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    """A read-only install (no cache location) still compiles the kernels, uncached."""
    import numba

    from skkan.nn import _kernels

    real_njit = numba.njit

    def njit(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)
    forward, backward = _kernels.make_kernels(2)
    grid = _grid(3, 4, 2, np.random.default_rng(5))
    tables = spline_tables(grid, 2)
    x = np.random.default_rng(6).normal(size=(50, 3))
    out = np.empty((50, 3, 6))
    forward(
        x,
        *(t.numpy() for t in (tables.low, tables.high, tables.inner_knots, tables.rows, tables.start)),
        tables.tail_slope_low.numpy(),
        tables.tail_slope_high.numpy(),
        4,
        np.float64(-1),
        out,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKKAN_COMPILED_KERNELS", "0")
        expected = bspline_basis(torch.tensor(x), grid, 2, tables=tables).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-12)
