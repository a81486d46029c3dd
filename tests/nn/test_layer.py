import pickle

import pytest
import torch

from skkan.nn import KANLayer


def _layer(seed=0, **kwargs):
    generator = torch.Generator().manual_seed(seed)
    return KANLayer(3, 2, generator=generator, dtype=torch.float64, **kwargs)


def test_forward_is_sum_of_edge_curves_plus_bias():
    layer = _layer()
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.5, -1.0], dtype=torch.float64))
    x = torch.randn(50, 3, dtype=torch.float64)
    edges = layer.edge_activations(x)
    assert edges.shape == (50, 2, 3)
    torch.testing.assert_close(layer(x), edges.sum(-1) + layer.bias)


def test_an_empty_batch_gives_empty_outputs_and_gradients():
    layer = _layer()
    x = torch.zeros(0, 3, dtype=torch.float64, requires_grad=True)
    output = layer(x)
    assert output.shape == (0, 2)
    output.sum().backward()
    assert x.grad.shape == (0, 3)
    assert layer.coef.grad is not None and not layer.coef.grad.any()
    assert layer.edge_activations(x.detach()).shape == (0, 2, 3)


def test_edge_spread_equals_std_of_edge_activations():
    layer = _layer(1)
    x = torch.randn(400, 3, dtype=torch.float64) * 0.6
    expected = layer.edge_activations(x).std(0, unbiased=False)
    torch.testing.assert_close(layer.edge_spread(x), expected, atol=1e-6, rtol=1e-6)
    weights = torch.rand(400, dtype=torch.float64)
    edges = layer.edge_activations(x)
    mean = (weights[:, None, None] * edges).sum(0) / weights.sum()
    weighted = ((weights[:, None, None] * (edges - mean) ** 2).sum(0) / weights.sum()).sqrt()
    torch.testing.assert_close(layer.edge_spread(x, weights), weighted, atol=1e-6, rtol=1e-6)


def test_mask_removes_exactly_the_masked_edge():
    layer = _layer(2)
    x = torch.randn(20, 3, dtype=torch.float64)
    edges = layer.edge_activations(x)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0
    expected = edges.sum(-1) + layer.bias
    expected[:, 1] -= edges[:, 1, 2]
    torch.testing.assert_close(layer(x), expected)


def test_update_grid_preserves_the_function_on_the_data():
    layer = _layer(3, grid_size=8)
    with torch.no_grad():  # smooth curves (random coefficients are pure noise)
        c = torch.arange(11, dtype=torch.float64)
        layer.coef.copy_(torch.sin(0.4 * c + torch.arange(2.0)[:, None, None] + torch.arange(3.0)[None, :, None]))
    x = torch.rand(2000, 3, dtype=torch.float64) * 1.6 - 0.8  # inside the initial grid
    before = layer(x)
    layer.update_grid(x, grid_eps=0.02)
    after = layer(x)
    assert (after - before).abs().max() < 2e-3 * before.abs().max()
    # Knots follow the data: the grid spans the sample range with a small margin.
    width = x.max(0).values - x.min(0).values
    assert torch.all(layer.grid[:, 3] < x.min(0).values) and torch.all(layer.grid[:, 3] > x.min(0).values - 0.01 * width)
    assert torch.all(layer.grid[:, -4] > x.max(0).values) and torch.all(layer.grid[:, -4] < x.max(0).values + 0.01 * width)


@pytest.mark.parametrize(
    "make_x",
    [
        lambda: torch.zeros(100, 3),  # constant columns
        lambda: torch.randint(0, 2, (100, 3)).float(),  # binary: collapsed quantiles
        lambda: torch.randn(3, 3),  # fewer samples than knots
        lambda: torch.tensor([[1e6, -1e-6, 5.0]] * 7 + [[1e6 + 1, 0.0, 5.0]]),  # huge, tiny, repeated
    ],
)
@pytest.mark.parametrize("grid_eps", [0.0, 0.02, 1.0])
def test_update_grid_is_robust(make_x, grid_eps):
    layer = KANLayer(3, 2, grid_size=5, generator=torch.Generator().manual_seed(0))
    x = make_x()
    layer.update_grid(x, grid_eps=grid_eps)
    assert torch.isfinite(layer.grid).all()
    assert (layer.grid.diff(dim=1) >= 0).all()
    assert torch.isfinite(layer.coef).all()
    out = layer(x)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_update_grid_with_weights_ignores_zero_weight_samples():
    layer_a, layer_b = _layer(4), _layer(4)
    x = torch.randn(200, 3, dtype=torch.float64)
    extra = torch.randn(50, 3, dtype=torch.float64) * 10
    weights = torch.cat([torch.ones(200), torch.zeros(50)]).double()
    layer_a.update_grid(x)
    layer_b.update_grid(torch.cat([x, extra]), sample_weight=weights)
    torch.testing.assert_close(layer_a.grid, layer_b.grid)


@pytest.mark.parametrize("new_size,tolerance", [(10, 1e-9), (20, 1e-9), (13, 2e-3)])
def test_refine_preserves_the_curves(new_size, tolerance):
    layer = _layer(5, grid_size=5)
    x = torch.randn(3000, 3, dtype=torch.float64)
    layer.update_grid(x)
    before = layer(x)
    layer.refine(new_size)
    assert layer.grid_size == new_size
    assert layer.coef.shape == (2, 3, new_size + 3)
    after = layer(x)
    assert (after - before).abs().max() <= tolerance * max(1.0, before.abs().max())


def test_pickle_round_trip_keeps_outputs():
    import pickle

    layer = _layer(6)
    x = torch.randn(10, 3, dtype=torch.float64)
    expected = layer(x)
    clone = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(clone(x), expected)


# ---------------------------------------------------------------- symbolic edges
class _Sin:
    """A minimal symbolic function: the layer needs only a name and a torch form."""

    name = "sin"

    @staticmethod
    def torch_function():
        return torch.sin


def _symbolic_layer():
    generator = torch.Generator().manual_seed(0)
    layer = KANLayer(3, 2, grid_size=5, generator=generator, dtype=torch.float64)
    layer.set_symbolic(1, 2, _Sin(), (2.0, 0.5, 1.5, -0.3))
    return layer


def test_symbolic_edge_replaces_the_spline_exactly():
    layer = _symbolic_layer()
    x = torch.randn(50, 3, dtype=torch.float64)
    reference = KANLayer(3, 2, grid_size=5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        reference.mask[1, 2] = 0
    expected = reference(x)
    expected[:, 1] += 1.5 * torch.sin(2.0 * x[:, 2] + 0.5) - 0.3
    torch.testing.assert_close(layer(x), expected)
    activations = layer.edge_activations(x)
    torch.testing.assert_close(activations[:, 1, 2], 1.5 * torch.sin(2.0 * x[:, 2] + 0.5) - 0.3)
    torch.testing.assert_close(activations.sum(-1) + layer.bias, layer(x))
    spread = layer.edge_spread(x)
    torch.testing.assert_close(spread, activations.std(0, unbiased=False), atol=1e-6, rtol=1e-6)


def test_symbolic_parameters_train_and_clear_restores_the_spline():
    layer = _symbolic_layer()
    x = torch.randn(20, 3, dtype=torch.float64)
    spline_only = KANLayer(3, 2, grid_size=5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    layer(x).sum().backward()
    assert layer.symbolic_affine.grad[1, 2].abs().sum() > 0
    assert layer.symbolic_affine.grad[0].abs().sum() == 0
    assert layer.coef.grad[1, 2].abs().sum() == 0  # the spline of a symbolic edge is off
    layer.clear_symbolic(1, 2)
    torch.testing.assert_close(layer(x), spline_only(x))


def test_symbolic_edges_survive_keep_nodes_and_pickling():
    layer = _symbolic_layer()
    x = torch.randn(30, 3, dtype=torch.float64)
    with torch.no_grad():
        expected = layer(x)[:, 1] - layer.edge_activations(x)[:, 1, 0]
        layer.keep_nodes(inputs=torch.tensor([False, True, True]), outputs=torch.tensor([False, True]))
        assert list(layer.symbolic_functions) == [(0, 1)]
        torch.testing.assert_close(layer(x[:, 1:])[:, 0], expected)
        restored = pickle.loads(pickle.dumps(layer))
        torch.testing.assert_close(restored(x[:, 1:]), layer(x[:, 1:]))


def test_second_derivatives_through_symbolic_edges():
    layer = _symbolic_layer()
    x = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(layer(x)[:, 1].sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first[:, 2].sum(), x)
    # Output 1 reads input 2 only through the symbolic edge: d2/dx2 of 1.5 sin(2x + 0.5).
    expected = -1.5 * 4.0 * torch.sin(2.0 * x[:, 2] + 0.5)
    torch.testing.assert_close(second[:, 2], expected.detach())


@pytest.mark.parametrize("spline_order", [1, 2, 3])
def test_set_identity_makes_the_edges_of_those_inputs_the_identity_everywhere(spline_order):
    layer = KANLayer(3, 2, grid_size=5, spline_order=spline_order, dtype=torch.float64)
    # Input 2 takes a single value (a degenerate range gets a unit-width grid).
    layer.set_identity([0, 2], torch.tensor([-2.0, 0.5]), torch.tensor([3.0, 0.5]))
    x = torch.linspace(-6.0, 7.0, 131, dtype=torch.float64)[:, None].repeat(1, 3)
    activations = layer.edge_activations(x)
    for i in (0, 2):
        assert torch.allclose(activations[:, :, i], x[:, i : i + 1].expand(-1, 2), atol=1e-12)
    assert not torch.allclose(activations[:, :, 1], x[:, 1:2].expand(-1, 2))


@pytest.mark.parametrize("change", ["refine", "update_grid"])
def test_grid_changes_without_keeping_curves_place_the_same_knots_and_zero_the_coefficients(change):
    torch.manual_seed(0)
    x = torch.randn(200, 3, dtype=torch.float64)
    kept, bare = (KANLayer(3, 2, grid_size=5, dtype=torch.float64) for _ in range(2))
    bare.load_state_dict(kept.state_dict())
    for layer, keep in ((kept, True), (bare, False)):
        if change == "refine":
            layer.refine(10, keep_curves=keep)
        else:
            layer.update_grid(x, keep_curves=keep)
    assert torch.equal(kept.grid, bare.grid) and bare.grid_size == kept.grid_size
    assert bare.coef.shape == kept.coef.shape and torch.count_nonzero(bare.coef) == 0
    assert torch.count_nonzero(kept.coef) > 0
