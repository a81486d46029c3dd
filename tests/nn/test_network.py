import numpy as np
import torch

from skkan.nn import KAN


def _net(seed=0, widths=(2, 5, 1), **kwargs):
    return KAN(list(widths), generator=torch.Generator().manual_seed(seed), dtype=torch.float64, **kwargs)


def test_network_shapes_and_widths():
    net = _net(widths=(4, 6, 3, 2))
    assert net.widths == [4, 6, 3, 2]
    assert net(torch.zeros(7, 4, dtype=torch.float64)).shape == (7, 2)
    values = net.layer_inputs(torch.zeros(7, 4, dtype=torch.float64))
    assert [v.shape[1] for v in values] == [4, 6, 3, 2]


def test_physics_informed_second_derivative_through_the_network():
    """d2u/dx2 of a deep KAN, by double autograd, against central differences."""
    net = _net(1, widths=(1, 4, 4, 1), grid_size=7)
    x = torch.linspace(-0.8, 0.8, 41, dtype=torch.float64)[:, None].requires_grad_()
    u = net(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
    assert torch.isfinite(d2u).all()
    # A residual built from d2u must itself be differentiable w.r.t. the weights.
    residual = (d2u + u).square().mean()
    residual.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    step = 1e-4
    with torch.no_grad():
        reference = (net(x + step) - 2 * net(x) + net(x - step)) / step**2
    error = (d2u - reference).abs()
    # Away from knots the cubic pieces are smooth: central differences agree closely.
    assert torch.quantile(error, 0.8) < 1e-3 * reference.abs().max()
    np.testing.assert_allclose(du.detach().numpy(), ((net(x + step) - net(x - step)) / (2 * step)).detach().numpy(), atol=1e-6)


def test_update_grid_and_refine_keep_the_network_function():
    net = _net(2, widths=(2, 3, 1), grid_size=5)
    x = torch.rand(1000, 2, dtype=torch.float64) * 1.8 - 0.9
    net.update_grid(x)
    before = net(x)
    net.refine(10)
    torch.testing.assert_close(net(x), before, atol=1e-9, rtol=1e-9)


def test_regularization_is_pykans_penalty_and_differentiable():
    net = _net(3)
    x = torch.randn(300, 2, dtype=torch.float64)
    l1_only = net.regularization(x, lamb_l1=1.0, lamb_entropy=0.0)
    expected = sum(
        (layer.edge_activations(inputs).std(0, unbiased=False) / (inputs.std(0, unbiased=False) + 0.1)).sum()
        for layer, inputs in zip(net.layers, net.layer_inputs(x)[:-1])
    )
    torch.testing.assert_close(l1_only, expected, atol=1e-6, rtol=1e-6)
    total = net.regularization(x, lamb_l1=1.0, lamb_entropy=2.0, lamb_coef=0.5, lamb_coefdiff=0.5)
    assert total > l1_only
    total.backward()
    assert torch.isfinite(net.layers[0].coef.grad).all() and net.layers[0].coef.grad.abs().sum() > 0


def test_attribution_scores_find_the_used_input():
    net = _net(4, widths=(3, 1))
    with torch.no_grad():
        net.layers[0].mask[0, 1:] = 0.0  # only input 0 reaches the output
    nodes, edges = net.attribution(torch.randn(500, 3, dtype=torch.float64))
    assert len(nodes) == 2 and len(edges) == 1
    assert nodes[0][0] > 0 and torch.all(nodes[0][1:] == 0)
    assert torch.all(edges[0] >= 0)
