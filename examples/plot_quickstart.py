"""
Quick start: KANs on Iris and California Housing
================================================

``KANClassifier`` and ``KANRegressor`` are ordinary scikit-learn estimators. They
standardise inputs and adapt every spline grid to the quantiles of the data, so raw
features -- California Housing as downloaded, with populations in the thousands and
occupancies up to 1,243 -- need no scaler in front.
"""

# %%
# Iris: with fewer than 100 rows per feature the default (``"auto"``) classifier is
# a single KAN layer, so every class score is a sum
# of one learned curve per feature.
import matplotlib.pyplot as plt
from sklearn.datasets import fetch_california_housing, load_iris
from sklearn.model_selection import cross_val_score, train_test_split

from skkan import KANClassifier, KANRegressor

X, y = load_iris(return_X_y=True)
scores = cross_val_score(KANClassifier(random_state=0), X, y, cv=5)
print(f"Iris 5-fold accuracy: {scores.mean():.3f}")

# %%
# California Housing on raw features.
X, y = fetch_california_housing(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
reg = KANRegressor(random_state=0).fit(X_train, y_train)
print(f"California test R^2: {reg.score(X_test, y_test):.3f} after {reg.n_iter_} epochs")

# %%
# Which inputs does the network use? ``feature_importances_`` holds pykan's
# attribution scores, normalised to sum to one.
order = reg.feature_importances_.argsort()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.barh(X.columns[order], reg.feature_importances_[order])
ax.set_xlabel("attribution score (sums to 1)")
ax.set_title("KANRegressor on California Housing")
fig.tight_layout()
plt.show()
