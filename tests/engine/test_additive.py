"""Additive networks with pairs: structure, pair ranking (FAST) and terms read from masks."""

import numpy as np
import pytest
import torch

from skkan._additive import (
    COLLAPSE_TOLERANCE,
    PAIR_WIDTH,
    check_interactions,
    collapse_main_effects,
    distinct_inputs,
    interaction_structure,
    rank_pairs,
    term_contributions,
    terms_of,
)
from skkan.nn import KAN


def test_structure_gives_every_input_a_node_and_every_pair_its_nodes():
    width, mask = interaction_structure(4, [(0, 2), (1, 3)])
    assert width == 4 + 2 * PAIR_WIDTH
    assert (mask[:4] == np.eye(4)).all()
    assert (mask.sum(1)[4:] == 2).all()
    assert set(map(tuple, np.argwhere(mask[4 : 4 + PAIR_WIDTH])[:, 1].reshape(-1, 2))) == {(0, 2)}


@pytest.mark.parametrize(
    "value, expected",
    [(0, 0), (3, 3), ("auto", "auto"), ([(2, 0), (0, 2), [1, 2]], ((0, 2), (1, 2))), ([("b", "a")], ((0, 1),))],
)
def test_check_interactions_normalises(value, expected):
    assert check_interactions(value, (), 3, ["a", "b", "c"]) == expected


@pytest.mark.parametrize(
    "value, hidden, message",
    [
        (-1, (), ">= 0"),
        ("all", (), "'auto'"),
        ([(0, 0)], (), "two different inputs"),
        ([(0, 5)], (), r"\[0, 3\)"),
        ([("a", "z")], (), "Unknown feature 'z'"),
        ([(0, 1, 2)], (), "pair of two"),
        (2, (4,), "hidden_layer_sizes=()"),
    ],
)
def test_check_interactions_errors(value, hidden, message):
    with pytest.raises(ValueError, match=message):
        check_interactions(value, hidden, 3, ["a", "b", "c"])


def test_hidden_layers_without_pairs_are_fine():
    assert check_interactions(0, (5,), 3) == 0
    assert check_interactions(2, "auto", 3) == 2


@pytest.mark.parametrize("seed", range(6))
def test_rank_pairs_finds_the_interacting_pair_and_only_it_is_significant(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, 5))
    noise = rng.normal(size=3000)
    # Residuals of a perfect main-effects fit: the interaction of inputs 1 and 3 plus noise.
    residual = (x[:, 1] * x[:, 3] + noise)[:, None]
    ranking = rank_pairs(x, residual, np.ones(3000))
    assert ranking[0][0] == (1, 3)
    assert ranking[0][2]
    significant = [pair for pair, _, flag in ranking if flag]
    assert significant == [(1, 3)]


def test_rank_pairs_with_errors_gives_the_same_ranking_and_positive_errors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    residual = (x[:, 0] * x[:, 2] + rng.normal(size=2000))[:, None]
    plain = rank_pairs(x, residual, np.ones(2000))
    detailed = rank_pairs(x, residual, np.ones(2000), with_errors=True)
    assert [entry[:3] for entry in detailed] == plain
    assert all(error > 0 for *_, error in detailed)
    # The interacting pair is far beyond its error; the flag is a stricter z than 1.
    (pair, gain, flag, error) = detailed[0]
    assert pair == (0, 2) and flag and gain > 5 * error


def _threshold_residual(seed, n=4000):
    """Residuals of a binary target whose rate jumps where inputs 1 and 3 both pass 0.5,
    after the best fit of its two steps alone (a main-effects model)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 5))
    y = rng.uniform(size=n) < 0.15 + 0.45 * ((x[:, 1] > 0.5) & (x[:, 3] > 0.5))
    steps = np.column_stack([np.ones(n), x[:, 1] > 0.5, x[:, 3] > 0.5])
    return x, (y - steps @ np.linalg.lstsq(steps, y, rcond=None)[0])[:, None]


def test_coarse_bins_find_a_threshold_interaction_in_noisy_binary_data():
    # 4,000 rows give 10 and 5 bins. The fine cells pay more variance than the jump
    # explains on some samples; the coarse ones find it on every sample.
    def only_the_pair_is_significant(seed, n_bins):
        x, residual = _threshold_residual(seed)
        ranking = rank_pairs(x, residual, np.ones(len(x)), n_bins=n_bins)
        return [pair for pair, _, flag in ranking if flag] == [(1, 3)]

    assert all(only_the_pair_is_significant(seed, None) for seed in range(10))
    assert sum(only_the_pair_is_significant(seed, 10) for seed in range(10)) <= 7


def test_distinct_inputs_skip_a_copy_but_keep_rare_categories():
    rng = np.random.default_rng(0)
    minutes = rng.uniform(0, 300, 3000)
    category = rng.integers(0, 60, 3000)
    values = np.column_stack([
        minutes,
        np.round(0.17 * minutes, 2),  # the charge of those minutes: the same quantity
        rng.normal(size=3000),
        category == 0,  # two rare categories: equal on 97 % of rows, yet unrelated
        category == 1,
    ])
    assert distinct_inputs(values, [1, 0, 2, 3, 4], 5).tolist() == [1, 2, 3, 4]
    assert distinct_inputs(values, [0, 1, 2, 3, 4], 2).tolist() == [0, 2]


@pytest.mark.parametrize("seed", range(4))
def test_rank_pairs_sees_no_interaction_in_additive_signal(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(2000, 4))
    # Main effects only (a model would have removed them, but steps in each input do too).
    residual = (np.sin(2 * x[:, 0]) + x[:, 2] ** 2 + 0.5 * rng.normal(size=2000))[:, None]
    assert not any(flag for _, _, flag in rank_pairs(x, residual, np.ones(2000)))


def _masked_network(n_features, pairs, n_outputs=1, seed=0):
    width, mask = interaction_structure(n_features, pairs)
    module = KAN([n_features, width, n_outputs], grid_size=4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    module.layers[0].mask.copy_(torch.as_tensor(mask))
    return module


def test_terms_of_a_masked_network_sum_to_its_output():
    module = _masked_network(4, [(0, 3), (1, 2)], n_outputs=3)
    terms = terms_of(module)
    assert terms.inputs == [(0,), (1,), (2,), (3,), (0, 3), (1, 2)]
    x = torch.randn(50, 4, dtype=torch.float64)
    contributions, intercept = term_contributions(module, terms, x)
    assert contributions.shape == (50, 6, 3)
    np.testing.assert_allclose(contributions.sum(1) + intercept, module(x).detach().numpy(), atol=1e-12)
    # A term depends on its inputs only.
    changed = x.clone()
    changed[:, 1] += 1.0
    moved, _ = term_contributions(module, terms, changed)
    np.testing.assert_allclose(moved[:, [0, 3, 4]], contributions[:, [0, 3, 4]], atol=1e-12)


def test_terms_follow_pruning_of_nodes_and_edges():
    module = _masked_network(3, [(0, 1)])
    with torch.no_grad():
        module.layers[1].mask[0, 2] = 0.0  # input 2's node no longer reaches the output
        module.layers[0].mask[3, 1] = 0.0  # one node of the pair now sees input 0 only
    terms = terms_of(module)
    assert terms.inputs == [(0,), (1,), (0, 1)]
    assert 3 in terms.nodes[0]  # counted with input 0's main effect
    x = torch.randn(20, 3, dtype=torch.float64)
    contributions, intercept = term_contributions(module, terms, x)
    np.testing.assert_allclose(contributions.sum(1) + intercept, module(x).detach().numpy(), atol=1e-12)


def test_a_node_that_sees_no_input_is_part_of_the_intercept():
    module = _masked_network(2, [(0, 1)])
    with torch.no_grad():
        module.layers[0].mask[2:] = 0.0  # the pair's nodes see nothing: constants
    terms = terms_of(module)
    assert terms.inputs == [(0,), (1,)]
    assert len(terms.constant_nodes) == PAIR_WIDTH
    x = torch.randn(10, 2, dtype=torch.float64)
    contributions, intercept = term_contributions(module, terms, x)
    np.testing.assert_allclose(contributions.sum(1) + intercept, module(x).detach().numpy(), atol=1e-12)


def test_dense_or_deep_networks_are_not_additive():
    assert terms_of(KAN([3, 4, 1])) is None
    assert terms_of(KAN([3, 2, 2, 1])) is None
    single = KAN([3, 2])
    assert terms_of(single).inputs == [(0,), (1,), (2,)]
    with torch.no_grad():
        single.layers[0].mask[:, 1] = 0.0
    assert terms_of(single).inputs == [(0,), (2,)]


@pytest.mark.parametrize("seed", range(3))
def test_main_effects_fold_into_their_first_edge_and_the_output_stays(seed):
    module = _masked_network(3, [(0, 2)], seed=seed)
    x = torch.rand(400, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 4 - 2
    module.update_grid(x)  # as training leaves it: the grids cover the data
    before = module(x).detach()
    terms_before = term_contributions(module, terms_of(module), x)[0]
    assert collapse_main_effects(module, x) == 3
    after = module(x).detach()
    rms = float(torch.sqrt(torch.mean((after - before) ** 2)))
    assert rms <= COLLAPSE_TOLERANCE * float(before.std())
    first, second = module.layers
    for node, feature in ((0, 0), (1, 1), (2, 2)):
        # The output edge is the identity, the first edge a spline with no base part.
        assert second.symbolic_functions[(0, node)].name == "x"
        assert float(first.scale_base[node, feature]) == 0.0
    # The pair's nodes are untouched, and every term keeps its contribution.
    assert all((0, node) not in second.symbolic_functions for node in range(3, first.out_features))
    terms_after = term_contributions(module, terms_of(module), x)[0]
    np.testing.assert_allclose(terms_after[:, 3], terms_before[:, 3], atol=1e-9)
    assert np.sqrt(np.mean((terms_after - terms_before) ** 2)) <= COLLAPSE_TOLERANCE * float(before.std())


def test_networks_that_are_not_single_output_additive_are_left_alone():
    module = _masked_network(3, [(0, 2)], n_outputs=2)
    x = torch.randn(100, 3, dtype=torch.float64)
    before = module(x).detach()
    assert collapse_main_effects(module, x) == 0
    torch.testing.assert_close(module(x).detach(), before)
    dense = KAN([3, 4, 1], grid_size=4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert collapse_main_effects(dense, x) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_average_with_additive_is_the_mean_of_both_networks_everywhere(seed):
    from skkan._additive import average_with_additive

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(400, 4, generator=generator, dtype=torch.float64)
    network = KAN([4, 6, 1], grid_size=4, generator=generator, dtype=torch.float64)
    network.update_grid(x)
    additive = KAN([4, 1], grid_size=4, generator=generator, dtype=torch.float64)
    additive.layers[0].grid.copy_(network.layers[0].grid)
    with torch.no_grad():
        for layer in (*network.layers, additive.layers[0]):
            layer.coef.normal_(generator=generator)
            layer.scale_base.normal_(generator=generator)
            layer.bias.normal_(generator=generator)
    averaged = average_with_additive(network, additive, x)
    assert averaged.widths == [4, 10, 1]
    for rows in (x, 3 * x):  # beyond the rows the identity edges were fitted on too
        assert torch.allclose(averaged(rows), (network(rows) + additive(rows)) / 2, atol=1e-10)
    additive.layers[0].update_grid(2 * x)
    with pytest.raises(ValueError, match="grid"):
        average_with_additive(network, additive, x)


def test_significantly_positive_is_a_one_sided_test_of_the_mean():
    from skkan._additive import significantly_positive

    rng = np.random.default_rng(0)
    noise = rng.normal(size=400)
    assert significantly_positive(noise + 0.3, 0.05)
    assert not significantly_positive(noise - noise.mean(), 0.05)  # mean exactly 0
    assert not significantly_positive(noise - 0.3, 0.05)  # one-sided: a negative mean never passes


def test_trimmed_test_is_decided_by_the_bulk_of_the_rows_not_by_two_extreme_ones():
    from skkan._additive import significantly_positive

    rng = np.random.default_rng(0)
    bulk = 0.05 + 0.3 * rng.normal(size=2000)
    wild = bulk.copy()
    wild[:2] = 300.0  # two rows where one fit extrapolated wildly
    assert not significantly_positive(wild, 0.025)  # their spread hides the bulk's gain
    assert significantly_positive(wild, 0.025, trim=0.01)
    assert significantly_positive(bulk, 0.025, trim=0.01)
    centred = bulk - np.mean(bulk)
    centred[:2] = 300.0
    assert not significantly_positive(centred, 0.025, trim=0.01)  # two rows alone do not pass it
    assert not significantly_positive(-bulk, 0.025, trim=0.01)
