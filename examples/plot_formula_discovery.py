"""
Formula discovery: from data to exp(sin(pi x) + y^2)
====================================================

The KAN paper's toy problem. :class:`skkan.KANSymbolicRegressor` trains sparse KANs
in stages, snaps their curves to a library of functions, simplifies every formula
against the data and keeps the simplest one that fits: here the function that
generated the data (for each of the 10 random states in ``benchmarks/RESULTS.md``).
Losses below 1e-12 count as equal, so float rounding, which differs between CPUs,
never decides between two exact formulas. The second part shows the KAN paper's
manual recipe on a :class:`skkan.KANRegressor`, whose formula is always exactly the
snapped network but depends on where sparse training ends -- possibly on the CPU.
"""

# %%
import time

import numpy as np

from skkan import KANRegressor, KANSymbolicRegressor

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(1000, 2))
y = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)

# %%
# Discovery. ``verbose=1`` prints one line per trial: which target (``y`` or
# ``log|y|``) and network it trained, how long it took, its held-out loss and formula.
start = time.perf_counter()
model = KANSymbolicRegressor(random_state=0, verbose=1).fit(X, y)
print(f"discovered in {time.perf_counter() - start:.1f} s: {model.get_formula()}")

# %%
# The table of candidates, simplest first, as PySR shows it: the loss is the held-out
# mean squared error relative to the variance of y (floored at 1e-12); the chosen row
# has the highest score among the rows within 1.5x of the lowest loss.
print(model.equations_[["complexity", "loss", "score", "equation"]].to_string())
print("LaTeX:", model.latex())

# %%
# The manual recipe: sparse training, pruning, snapping with retraining. Where sparse
# training ends (one hidden node or several) depends on the initialisation and even on
# the CPU's rounding, so the formula may be longer than the law; it is always exactly
# the snapped network.
reg = KANRegressor(hidden_layer_sizes=(5,), grid_size=3, lamb=1e-2, solver="lbfgs", max_iter=300, random_state=0)
reg.fit(X, y).prune()
print("widths after pruning:", reg.module_.widths)
reg.auto_symbolic(X, y)
report = reg.formula_report(X)
print("formula:", reg.get_formula())
print(f"formula vs network: R^2 = {report.r2[0]:.10f}")

# %%
# The network with its curves: symbolic edges in red, titled with their function
# (needs matplotlib, the ``plot`` extra).
try:
    import matplotlib.pyplot as plt
except ImportError:  # plotting is optional
    plt = None
if plt is not None:
    reg.plot(title="after prune() and auto_symbolic()")
    plt.show()
