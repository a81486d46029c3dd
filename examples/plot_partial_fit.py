"""
Training chunk by chunk with ``partial_fit``
============================================

Data that do not fit in memory, or arrive in pieces, are trained on with
``partial_fit``: one pass over the rows it is given per call, as scikit-learn's
``MLPRegressor`` does. The first call settles the input scaling, the target scaling
and the spline grids from its rows, so it should be a representative (shuffled)
chunk; later calls continue with the same scaling, grids and Adam state.

Here California Housing is split into 8 chunks that are fed 30 times, and the test
score after every pass is compared with one ordinary ``fit`` on all the rows. For
data spread over a cluster, ``dask_ml.wrappers.Incremental(KANRegressor())`` calls
``partial_fit`` block by block in the same way.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import fetch_california_housing
from sklearn.model_selection import train_test_split

from skkan import KANRegressor

X, y = fetch_california_housing(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
full_fit = KANRegressor(random_state=0).fit(X_train, y_train).score(X_test, y_test)

# %%
# Eight chunks of shuffled rows, thirty passes over them.
chunks = np.array_split(np.random.default_rng(0).permutation(len(X_train)), 8)
model = KANRegressor(random_state=0)
scores = []
for _ in range(30):
    for rows in chunks:
        model.partial_fit(X_train[rows], y_train[rows])
    scores.append(model.score(X_test, y_test))
print(f"full fit R^2 {full_fit:.3f}; after 30 passes over 8 chunks {scores[-1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, len(scores) + 1), scores, "o-", label="partial_fit, 8 chunks")
ax.axhline(full_fit, color="tab:red", linestyle="--", label="fit on all rows")
ax.set_xlabel("passes over the data")
ax.set_ylabel("test R$^2$")
ax.set_ylim(max(0.5, min(scores) - 0.02), max(max(scores), full_fit) + 0.01)
ax.legend()
fig.tight_layout()
plt.show()
