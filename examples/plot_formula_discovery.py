"""
Formula discovery: from data to exp(sin(pi x) + y^2)
====================================================

The KAN paper's toy problem. A sparse KAN is trained on samples of
``exp(sin(pi x) + y**2)``, pruned to the one hidden node the function needs, its
curves are snapped to functions of the symbolic library and their constants
retrained; ``get_formula`` then prints the function that generated the data.
"""

# %%
import time

import numpy as np

from skkan import KANRegressor

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(1000, 2))
y = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)

# %%
# Sparse training: ``lamb`` pushes the network towards few active edges, a coarse
# grid keeps the curves simple, L-BFGS trains small problems well.
start = time.perf_counter()
reg = KANRegressor(hidden_layer_sizes=(5,), grid_size=3, lamb=1e-2, solver="lbfgs", max_iter=300, random_state=0)
reg.fit(X, y)
print(f"trained in {time.perf_counter() - start:.1f} s, R^2 = {reg.score(X, y):.4f}")
print("edge scores, layer 0 (hidden x input):")
print(np.round(reg.edge_scores_[0], 3))

# %%
# Pruning removes the edges and hidden nodes that carry (almost) nothing.
reg.prune()
print("widths after pruning:", reg.module_.widths, f"R^2 = {reg.score(X, y):.4f}")

# %%
# Snap every curve to the library and retrain the constants on the data.
reg.auto_symbolic(X, y)
for record in reg.symbolic_fits_:
    alternatives = ", ".join(f"{name} {r2:.4f}" for name, r2 in record["candidates"])
    print(f"layer {record['layer']} edge {record['input']}->{record['output']}: "
          f"{record['function']} (R^2 {record['r2']:.5f}; best candidates: {alternatives})")

# %%
# The formula, in the units of the data, and how faithful it is to the network.
formula = reg.get_formula()
print("formula:", formula)
report = reg.formula_report(X)
print(f"formula vs network: R^2 = {report.r2[0]:.10f}, max |error| = {report.max_abs_error[0]:.2e}")
print(f"whole pipeline: {time.perf_counter() - start:.1f} s")

# %%
# The network with its curves: symbolic edges in red, titled with their function;
# the pruned hidden nodes' edges are faded out (needs matplotlib, the ``plot`` extra).
try:
    import matplotlib.pyplot as plt
except ImportError:  # plotting is optional
    plt = None
if plt is not None:
    reg.plot(title="exp(sin(pi x0) + x1^2), after auto_symbolic")
    plt.show()
