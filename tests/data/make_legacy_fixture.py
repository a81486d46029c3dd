"""Writes legacy_acb63ec.pkl: models pickled by skkan at commit acb63ec (torch inside).

    git worktree add --detach /tmp/skkan_old acb63ec
    cd /tmp/skkan_old && PYTHONPATH=/tmp/skkan_old python <this file> legacy_acb63ec.pkl

tests/test_persistence.py checks that the current code still loads it.
"""
import pickle
import sys
import warnings

import numpy as np

import skkan

assert skkan.__file__.startswith("/tmp/skkan_old"), skkan.__file__
from skkan import KANClassifier, KANRegressor  # noqa: E402  (after the check of which skkan)

warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, size=(30, 2))
y = X[:, 0] ** 2 + np.sin(2 * X[:, 1])
reg = KANRegressor(hidden_layer_sizes=(), grid_size=3, max_iter=5, random_state=0).fit(X, y)
reg.fix_symbolic(0, 0, 0, "x^2")
labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
clf = KANClassifier(hidden_layer_sizes=(2,), grid_size=3, max_iter=5, random_state=0).fit(X, labels)
payload = {
    "X": X,
    "regressor": reg,
    "regressor_predict": reg.predict(X),
    "classifier": clf,
    "classifier_proba": clf.predict_proba(X),
}
with open(sys.argv[1], "wb") as f:
    pickle.dump(payload, f, protocol=4)
