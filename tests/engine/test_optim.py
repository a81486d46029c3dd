"""The estimators' lean optimizers (skkan._optim)."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from skkan._optim import LBFGS


def _rosenbrock(point):
    x, y = point[0], point[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def test_lbfgs_minimises_rosenbrock():
    point = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS([point])

    def closure():
        optimizer.zero_grad()
        loss = _rosenbrock(point)
        loss.backward()
        return loss

    losses = [float(optimizer.step(closure)) for _ in range(100)]
    torch.testing.assert_close(point.detach(), torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # every step decreases the loss


def test_lbfgs_solves_a_badly_conditioned_quadratic_and_stops_at_its_minimum():
    generator = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(20, 20, generator=generator, dtype=torch.float64)).Q
    hessian = basis @ torch.diag(torch.logspace(-2, 2, 20, dtype=torch.float64)) @ basis.T
    target = torch.randn(20, generator=generator, dtype=torch.float64)
    point = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    optimizer = LBFGS([point], history_size=20)

    def closure():
        optimizer.zero_grad()
        difference = point - target
        loss = 0.5 * difference @ hessian @ difference
        loss.backward()
        return loss

    for _ in range(300):
        optimizer.step(closure)
    torch.testing.assert_close(point.detach(), target, atol=1e-5, rtol=0)
    for _ in range(5):  # at the minimum: steps that find no decrease do not move
        before = float(closure().detach())
        optimizer.step(closure)
        assert float(closure().detach()) <= before


def test_fitting_never_imports_torch_optim():
    """torch.optim pulls in torch._dynamo (about 2 s per process)."""
    code = (
        "import sys, numpy as np\n"
        "from skkan import KANRegressor, KANClassifier\n"
        "X = np.random.default_rng(0).normal(size=(60, 3)); y = X[:, 0] ** 2\n"
        "KANRegressor(solver='lbfgs', max_iter=5).fit(X, y)\n"
        "KANRegressor(solver='adam', max_iter=5).fit(X, y).prune().auto_symbolic(X, y).get_formula()\n"
        "KANClassifier(max_iter=5).fit(X, y > 1)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_adam_takes_torch_adams_steps():
    from skkan._optim import Adam

    generator = torch.Generator().manual_seed(0)
    start = torch.randn(5, 3, dtype=torch.float64, generator=generator)
    target = torch.randn(5, 3, dtype=torch.float64, generator=generator)
    ours = start.clone().requires_grad_(True)
    reference = start.clone().requires_grad_(True)
    optimizer = Adam([ours], lr=0.05)
    reference_optimizer = torch.optim.Adam([reference], lr=0.05)
    for _ in range(25):
        for param, opt in ((ours, optimizer), (reference, reference_optimizer)):
            opt.zero_grad()
            ((param - target) ** 4).sum().backward()
            opt.step()
    np.testing.assert_allclose(ours.detach().numpy(), reference.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adam_owns_its_plateau_schedule_and_resumes_from_its_state():
    from skkan._optim import Adam

    param = torch.zeros(3, requires_grad=True)
    optimizer = Adam([param], lr=0.1, lr_drops=1)
    assert optimizer.on_plateau() is False and optimizer.lr == pytest.approx(0.02)
    assert optimizer.on_plateau() is True  # no drops left: stop
    assert LBFGS([param]).on_plateau() is True

    def closure():
        optimizer.zero_grad()
        loss = ((param - 1.0) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        optimizer.step(closure)
    resumed = Adam([param], lr=1.0)
    resumed.load_state(optimizer.state())
    assert resumed.steps == 3 and resumed.lr == optimizer.lr
    for a, b in zip(resumed.exp_avg_sq, optimizer.exp_avg_sq):
        assert torch.equal(a, b)
