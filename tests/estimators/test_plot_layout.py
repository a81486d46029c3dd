"""Layout of plot(): figure size, node labels, symbolic names."""

import numpy as np
import pytest

from skkan import KANClassifier, KANRegressor

pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _labels(ax, gid):
    return [text.get_text() for text in ax.texts if text.get_gid() == gid]


def _regressor(n_features):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(40, n_features))
    y = X.sum(1)
    columns = [f"feature_{i}" for i in range(n_features)]
    reg = KANRegressor(hidden_layer_sizes=(2,), grid_size=3, max_iter=3, random_state=0)
    return reg.fit(pd.DataFrame(X, columns=columns), y), columns


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_plot_grows_with_inputs_and_names_nodes():
    wide, columns = _regressor(8)
    narrow, _ = _regressor(2)
    ax_wide, ax_narrow = wide.plot(n_points=5), narrow.plot(n_points=5)
    width_wide = ax_wide.figure.get_size_inches()[0]
    width_narrow = ax_narrow.figure.get_size_inches()[0]
    assert width_wide > 1.5 * width_narrow
    assert _labels(ax_wide, "input_label") == columns
    assert _labels(ax_wide, "output_label") == ["y"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_plot_classifier_outputs_are_class_names():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    names = np.array(["setosa", "versicolor", "virginica"])[np.digitize(X[:, 0], [-0.3, 0.3])]
    clf = KANClassifier(hidden_layer_sizes=(), grid_size=3, max_iter=3, random_state=0).fit(X, names)
    ax = clf.plot(n_points=5)
    assert _labels(ax, "output_label") == ["setosa", "versicolor", "virginica"]
    assert _labels(ax, "input_label") == ["x0", "x1"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_symbolic_names_are_legible_on_faded_edges():
    reg, _ = _regressor(2)
    reg.fix_symbolic(0, 0, 0, "sin")
    ax = reg.plot(n_points=5)
    titles = [child.get_title() for child in ax.child_axes if child.get_title()]
    assert titles == ["sin"]
    title = next(child.title for child in ax.child_axes if child.get_title())
    assert title.get_alpha() in (None, 1.0)
    assert title.get_fontsize() >= 8
