"""
An additive KAN with interactions on California Housing
=======================================================

A KAN without a hidden layer is an additive model: the prediction is a sum of one
learned curve per feature, which a reader can look at one by one, as with
InterpretML's Explainable Boosting Machine. ``interactions="auto"`` adds the pairs
of features that explain most of what the curves miss, each as a small KAN of two
inputs. ``term_names_`` and ``term_importances_`` list the terms, ``plot_terms`` draws
them in the data's units and ``explain`` breaks any prediction into their
contributions.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import fetch_california_housing
from sklearn.model_selection import train_test_split

from skkan import KANRegressor

X, y = fetch_california_housing(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

# %%
# The additive model, then the same with pairwise interactions chosen automatically.
additive = KANRegressor(hidden_layer_sizes=(), random_state=0).fit(X_train, y_train)
model = KANRegressor(hidden_layer_sizes=(), interactions="auto", random_state=0).fit(X_train, y_train)
print(f"additive:          test R^2 = {additive.score(X_test, y_test):.3f}")
print(f"with interactions: test R^2 = {model.score(X_test, y_test):.3f}")

# %%
# The terms, the most important first (mean absolute contribution, in units of the
# target: hundreds of thousands of dollars).
for importance, name in sorted(zip(model.term_importances_, model.term_names_), reverse=True):
    print(f"{importance:6.3f}  {name}")

# %%
# The eight most important terms. A feature's panel shows its contribution against
# the feature, with the data's density in grey and, where one fits, a simple closed
# form dashed; a pair's panel is a heatmap over the two features.
figure = model.plot_terms(max_terms=8)
plt.show()

# %%
# Why did the model predict what it did for the first test district? ``explain``
# gives every term's contribution; with the intercept they add up to the prediction.
contributions = model.explain(X_test.iloc[:1]).T.squeeze()
print(contributions.sort_values(key=abs, ascending=False).round(3).head(8))
print(f"sum = {contributions.sum():.3f}, prediction = {model.predict(X_test.iloc[:1])[0]:.3f}")
