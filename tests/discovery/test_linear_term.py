"""A term linear in one input, peeled off with a surrogate (skkan.discovery._linear_term).

``g_0(x without x_j) + x_j * g_1(x_S)`` is neither a sum of functions of disjoint
inputs nor a product when ``S`` shares inputs with ``g_0``. The structure is read off
a surrogate's values; the exact functions below stand in for a surrogate where only
the reading is tested. Assertions hold for every seed tried (the comments say which).
"""

import numpy as np
import pytest
import sympy
import torch

from skkan.discovery._linear_term import linear_term_structure, linear_term_trial
from skkan.discovery._trials import TrialSpec

X0, X1, X2, X3 = sympy.symbols("x0 x1 x2 x3")
SETTINGS = {"grid_size": 3, "lamb": 1e-2, "max_iter": 200, "symbolic_iter": 200, "tolerance": 1e-4, "library": None}


def _rows(random_state, n, d, low=1.0, high=3.0):
    return np.random.default_rng(random_state).uniform(low, high, size=(n, d))


def _peeled(x):
    # sqrt(x0**2 + x1**2 + x2) + x1*x3: linear in x3 with the coefficient x1, which the
    # other term shares.
    return torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2 + x[:, 2]) + x[:, 1] * x[:, 3]


@pytest.mark.parametrize("random_state", range(4))
def test_the_linear_input_and_its_coefficients_inputs_are_read_off_the_values(random_state):
    X = _rows(random_state, 500, 4)
    assert linear_term_structure(_peeled, X, error=0.0, random_state=random_state) == (3, (1,))


@pytest.mark.parametrize(
    "function",
    [
        # A product: linear in every input, but each coefficient has all the others.
        lambda x: x[:, 0] * x[:, 1] * x[:, 2],
        # No input enters linearly.
        lambda x: torch.sin(x[:, 0]) + x[:, 1] ** 2 + torch.exp(x[:, 2]) * x[:, 0],
        # Linear in x0 with a constant slope: an additive split, not this structure.
        lambda x: x[:, 0] + x[:, 1] ** 2 * torch.sin(x[:, 2]),
    ],
    ids=["product", "nonlinear", "constant slope"],
)
def test_no_structure_is_read_where_there_is_none(function):
    for random_state in range(3):
        X = _rows(random_state, 500, 3)
        assert linear_term_structure(function, X, error=0.0, random_state=random_state) is None


@pytest.mark.parametrize("random_state", range(3))
def test_the_structure_holds_at_a_surrogates_error(random_state):
    # A trained surrogate is off by about 1 % of the spread: the tolerance grows with
    # that error, and the structure is still read (checked at 0.5, 1 and 2 %).
    X = _rows(random_state, 500, 4)
    with torch.no_grad():
        spread = float(torch.std(_peeled(torch.as_tensor(X))))
    found = linear_term_structure(_peeled, X, error=0.01 * spread, random_state=random_state)
    assert found == (3, (1,))


@pytest.mark.slow
def test_the_trial_finds_the_sum_exactly_from_a_trained_surrogate():
    # sqrt(x0**2 + x1**2) + x1*x2: the slope x1 from the surrogate, then the root from
    # the real rows. Exact for seeds 0-3 (also with OMP_NUM_THREADS=1).
    X = _rows(0, 1500, 3)
    y = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2) + X[:, 1] * X[:, 2]
    spec = TrialSpec(3, "linear term", (20,), None, 0)
    settings = {**SETTINGS, "noise_level": 0.0}
    candidates, n_iter = linear_term_trial(spec, X[:1100], y[:1100], X[1100:], y[1100:], [X0, X1, X2], settings)
    assert n_iter > 0
    exact = [candidate.expression for candidate in candidates if candidate.loss < 1e-12]
    law = sympy.sqrt(X0**2 + X1**2) + X1 * X2
    assert any(sympy.simplify(expression - law) == 0 for expression in exact)
    assert spec.describe().startswith("y = g_0(x without x_j) + x_j * g_1(x)")
