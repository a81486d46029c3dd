"""The estimators' lean optimizers (skkan._optim)."""

import subprocess
import sys

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
