"""
Explaining a classifier with 30 features, term by term
======================================================

On the breast cancer data (569 tumours, 30 measurements) an additive
``KANClassifier`` scores each tumour by a sum of one curve per measurement plus the
pairs that ``interactions="auto"`` finds. The decision score is the log-odds of the
second class (benign), so every term's contribution reads in log-odds.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from skkan import KANClassifier

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

model = KANClassifier(hidden_layer_sizes=(), interactions="auto", random_state=0).fit(X_train, y_train)
probability = model.predict_proba(X_test)[:, 1]
print(f"ROC AUC = {roc_auc_score(y_test, probability):.3f}, log-loss = {log_loss(y_test, probability):.3f}")
print(f"{len(model.term_names_)} terms, pairs: {[name for name in model.term_names_ if ' & ' in name]}")

# %%
# With 30 features, ``max_terms`` keeps the figure to the terms that matter.
figure = model.plot_terms(max_terms=8)
plt.show()

# %%
# The contributions to one tumour's score, largest first.
contributions = model.explain(X_test.iloc[:1]).T.squeeze()
print(contributions.sort_values(key=abs, ascending=False).round(3).head(8))
print(f"sum = {contributions.sum():.3f}, decision score = {model.decision_function(X_test.iloc[:1])[0]:.3f}")
