"""
Pruning a KAN inside a Pipeline
===============================

``KANPruner`` trains a sparse KAN (``lamb > 0``), prunes the edges whose attribution
score is below ``threshold`` and keeps the input features that still have an active
edge. It is a scikit-learn feature selector, so it drops into a ``Pipeline`` and its
parameters -- and those of the KAN after it -- can be searched with ``GridSearchCV``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import fetch_california_housing
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skkan import KANPruner, KANRegressor

X, y = fetch_california_housing(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

# %%
# Score with every feature.
full = KANRegressor(random_state=0).fit(X_train, y_train)
print(f"all {X.shape[1]} features: test R^2 = {full.score(X_test, y_test):.3f}")

# %%
# A pipeline that first selects features with a pruned, sparse KAN. A higher
# ``threshold`` prunes harder.
pipeline = make_pipeline(
    KANPruner(estimator=KANRegressor(lamb=1e-2, random_state=0), threshold=0.05),
    KANRegressor(random_state=0),
).set_output(transform="pandas")
pipeline.fit(X_train, y_train)
pruner = pipeline.named_steps["kanpruner"]
kept = pruner.get_feature_names_out()
print(f"kept {len(kept)} features: {list(kept)}")
print(f"dropped: {sorted(set(X.columns) - set(kept))}")
print(f"pipeline test R^2 = {pipeline.score(X_test, y_test):.3f}")

# %%
# The pruned KAN itself: its first-layer edges per input, and the hidden nodes left.
sparse = pruner.estimator_
print("network widths after pruning:", sparse.module_.widths)
active_edges = sparse.module_.layers[0].mask.sum(0).cpu().numpy().astype(int)
for name, edges, score in zip(X.columns, active_edges, sparse.feature_importances_):
    print(f"{name:>12s}  active edges: {edges}  importance: {score:.3f}")
print("hidden-layer edge scores (out x in):")
print(np.round(sparse.edge_scores_[1], 3))

# %%
# The sparse network as ``plot()`` draws it (the ``plot`` extra): edges faded by their
# attribution score, pruned edges almost transparent.
sparse.plot(title="sparse KAN after pruning")
plt.show()
