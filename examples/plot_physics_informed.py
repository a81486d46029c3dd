"""
Second derivatives through a KAN: a physics-informed fit
========================================================

``skkan.nn.KAN`` is an ordinary ``torch.nn.Module``. Its B-spline basis has an exact
custom backward that calls itself for higher orders, so
``torch.autograd.grad(..., create_graph=True)`` twice gives exact second derivatives.
Here a KAN solves ``u''(x) = -pi^2 sin(pi x)`` on [-1, 1] with ``u(-1) = u(1) = 0``,
whose solution is ``sin(pi x)``.
"""

# %%
import math

import matplotlib.pyplot as plt
import torch

from skkan.nn import KAN

generator = torch.Generator().manual_seed(0)
net = KAN([1, 5, 1], grid_size=10, generator=generator, dtype=torch.float64)
x = torch.linspace(-1, 1, 201, dtype=torch.float64)[:, None]
net.update_grid(x)
boundary = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)


def loss_function():
    inputs = x.clone().requires_grad_()
    u = net(inputs)
    (du,) = torch.autograd.grad(u.sum(), inputs, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), inputs, create_graph=True)
    residual = d2u + math.pi**2 * torch.sin(math.pi * inputs)
    return residual.square().mean() + 100 * net(boundary).square().mean()


for step in range(1200):
    optimizer.zero_grad()
    loss = loss_function()
    loss.backward()
    optimizer.step()
    if step == 200:
        net.update_grid(x)  # hidden activations have moved: re-fit the grids to them
print(f"final loss {loss.item():.2e}")

# %%
with torch.no_grad():
    u = net(x)
error = (u - torch.sin(math.pi * x)).abs().max().item()
print(f"max |u - sin(pi x)| = {error:.2e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(x.squeeze(1), torch.sin(math.pi * x).squeeze(1), lw=4, alpha=0.4, label="sin(pi x)")
ax.plot(x.squeeze(1), u.squeeze(1), "k--", label="KAN [1, 5, 1]")
ax.set_xlabel("x")
ax.legend()
ax.set_title(f"max error {error:.1e}")
fig.tight_layout()
plt.show()
