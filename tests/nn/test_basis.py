import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

from skkan.nn import bspline_basis, make_extended_grid, uniform_grid


def _scipy_basis(grid, k, x):
    """Reference values of every B-spline of a knot vector, from scipy."""
    n_basis = len(grid) - k - 1
    values = np.empty((len(x), n_basis))
    for c in range(n_basis):
        element = BSpline.basis_element(grid[c : c + k + 2], extrapolate=False)
        values[:, c] = np.nan_to_num(element(x))
    return values


@pytest.mark.parametrize("spline_order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("grid_size", [1, 3, 7, 20, 80])
@pytest.mark.parametrize("spacing", ["uniform", "random"])
def test_basis_matches_scipy(spline_order, grid_size, spacing):
    rng = np.random.default_rng(grid_size * 10 + spline_order)
    if spacing == "uniform":
        grid = uniform_grid(torch.tensor([-1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 7.5], dtype=torch.float64), grid_size, spline_order)
    else:
        interior = np.sort(rng.uniform(-3, 3, size=(2, grid_size + 1)), axis=1)
        grid = make_extended_grid(torch.tensor(interior), spline_order)
    low, high = grid[:, spline_order].numpy(), grid[:, -1 - spline_order].numpy()
    x = rng.uniform(low, high, size=(500, 2))
    for dtype, tolerance in [(torch.float64, 1e-12), (torch.float32, 1e-6)]:
        basis = bspline_basis(torch.tensor(x, dtype=dtype), grid.to(dtype), spline_order).double().numpy()
        for i in range(2):
            # scipy sees the knots the computation saw (float32-rounded for float32).
            knots = grid[i].to(dtype).double().numpy()
            xi = torch.tensor(x[:, i], dtype=dtype).double().numpy()
            np.testing.assert_allclose(basis[:, i], _scipy_basis(knots, spline_order, xi), atol=tolerance)


def test_partition_of_unity_and_repeated_knots():
    interior = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 2.0]], dtype=torch.float64)
    grid = make_extended_grid(interior, 3)
    x = torch.linspace(0, 2, 101, dtype=torch.float64)[:, None]
    basis = bspline_basis(x, grid, 3)
    assert torch.isfinite(basis).all()
    torch.testing.assert_close(basis.sum(-1), torch.ones(101, 1, dtype=torch.float64))
    np.testing.assert_allclose(basis[:, 0].numpy(), _scipy_basis(grid[0].numpy(), 3, x[:, 0].numpy())[:, :], atol=1e-12)


@pytest.mark.parametrize("spline_order", [1, 2, 3])
def test_outside_the_grid_continues_along_the_tangent(spline_order):
    grid = uniform_grid(torch.tensor([0.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), 5, spline_order)
    low, high = grid[0, spline_order].item(), grid[0, -1 - spline_order].item()
    edges = torch.tensor([[low], [high]], dtype=torch.float64)
    value = bspline_basis(edges, grid, spline_order)
    slope = bspline_basis(edges, grid, spline_order, derivative=1)
    far = torch.tensor([[low - 3.0], [high + 2.0]], dtype=torch.float64)
    torch.testing.assert_close(bspline_basis(far, grid, spline_order), value + slope * torch.tensor([[-3.0], [2.0]], dtype=torch.float64)[..., None])
    # Continuously differentiable across the ends (k >= 2); finite for huge inputs.
    x = torch.tensor([[high - 1e-7], [high + 1e-7]], dtype=torch.float64, requires_grad=True)
    weights = torch.arange(5.0 + spline_order, dtype=torch.float64)
    (grad,) = torch.autograd.grad((bspline_basis(x, grid, spline_order) * weights).sum(), x)
    if spline_order >= 2:
        assert abs(grad[0, 0] - grad[1, 0]) < 1e-4
    huge = bspline_basis(torch.tensor([[-1e30], [1e30]]), grid.float(), spline_order)
    assert torch.isfinite(huge).all()


@pytest.mark.parametrize("spline_order", [1, 2, 3, 4])
def test_first_and_second_derivatives_are_exact(spline_order):
    rng = np.random.default_rng(spline_order)
    interior = torch.tensor(np.sort(rng.uniform(-2, 2, size=(3, 7)), axis=1))
    grid = make_extended_grid(interior, spline_order)
    weights = torch.tensor(rng.normal(size=6 + spline_order))
    x = (interior[:, :1].t() + (interior[:, -1:] - interior[:, :1]).t() * torch.tensor(rng.uniform(-0.2, 1.2, size=(11, 3)))).requires_grad_()

    def curve(inputs):
        return (bspline_basis(inputs, grid, spline_order) * weights).sum(-1)

    assert torch.autograd.gradcheck(curve, (x,))
    assert torch.autograd.gradgradcheck(curve, (x,))


def test_second_derivative_matches_finite_differences():
    grid = uniform_grid(torch.tensor([-1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), 6, 3)
    weights = torch.tensor([0.3, -1.0, 2.0, 0.5, -0.7, 1.1, 0.2, -0.4, 0.9], dtype=torch.float64)

    def curve(inputs):
        return (bspline_basis(inputs, grid, 3) * weights).sum(-1).sum(-1)

    x = torch.linspace(-0.9, 0.9, 37, dtype=torch.float64)[:, None].requires_grad_()
    (first,) = torch.autograd.grad(curve(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x, create_graph=True)
    step = 1e-4
    with torch.no_grad():
        reference = (curve(x + step) - 2 * curve(x) + curve(x - step)) / step**2
    assert torch.isfinite(second).all()
    # Points within `step` of a knot see the kink of the cubic's second derivative.
    torch.testing.assert_close(second[:, 0], reference, atol=2e-3 * reference.abs().max().item(), rtol=0)
