"""Formula details: plain class keys, FormulaReport's repr, rows outside the training range."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skkan import KANClassifier, KANRegressor

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.mark.parametrize("labels", [np.array(["setosa", "versicolor", "virginica"]), np.array([0, 1, 2])])
def test_classifier_formula_keys_are_plain_python(labels):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    y = labels[np.digitize(X[:, 0], [-0.3, 0.3])]
    clf = KANClassifier(hidden_layer_sizes=(), grid_size=3, max_iter=5, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        formula = clf.get_formula()
        assert list(formula) == labels.tolist()
        assert all(type(key) in (str, int) for key in formula)
        assert "np." not in repr(formula)
        exact = clf.get_formula(precision=None)
        np.testing.assert_allclose(clf.evaluate_formula(X, exact), clf.decision_function(X), atol=1e-8)


def test_formula_report_counts_rows_outside_the_training_range():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(100, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=3, max_iter=30, random_state=0).fit(X, y)
    reg.auto_symbolic(X, y, library=("x", "x^2"))
    inside = reg.formula_report()
    assert inside.n_outside_range == 0
    np.testing.assert_array_equal(inside.max_abs_error_in_range, inside.max_abs_error)
    X_wide = X.copy()
    X_wide[:10, 0] = 3.0  # beyond the training range: predict clips, the formula does not
    report = reg.formula_report(X_wide)
    assert report.n_outside_range == 10
    assert report.max_abs_error[0] > 1.0
    assert report.max_abs_error_in_range[0] < 1e-3
    assert report.r2_in_range[0] > 1 - 1e-6 > report.r2[0]
    np.testing.assert_array_equal(inside.r2_in_range, inside.r2)
    text = repr(report)
    assert "n_outside_range=10" in text and "does not clip" in text


def test_formula_report_repr_is_short():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 8))
    reg = KANRegressor(hidden_layer_sizes=(3,), grid_size=3, max_iter=5, random_state=0).fit(X, X.sum(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = reg.formula_report()
    assert len(str(report.formula)) > 500
    text = repr(report)
    assert len(text) < 300 and "\n" not in text
    assert text.startswith("FormulaReport(r2=") and text.endswith("...)")
