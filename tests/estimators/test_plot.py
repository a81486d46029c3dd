"""plot(): the network drawn with its curves (matplotlib)."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from skkan import KANClassifier, KANRegressor  # noqa: E402


def test_plot_draws_every_edge_and_fades_pruned_ones():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 3))
    y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    reg = KANRegressor(hidden_layer_sizes=(2,), grid_size=5, lamb=1e-2, random_state=0, max_iter=100).fit(X, y)
    reg.prune()
    ax = reg.plot(title="toy")
    n_edges = sum(layer.in_features * layer.out_features for layer in reg.module_.layers)
    insets = ax.child_axes
    assert len(insets) == n_edges
    drawn = [inset for inset in insets if inset.lines]
    assert len(drawn) == sum(int(layer.mask.sum()) for layer in reg.module_.layers)
    # x2 is irrelevant: its first-layer edges are pruned and drawn faded, without a curve.
    assert reg.module_.layers[0].mask[:, 2].sum() == 0
    assert [t.get_text() for t in ax.texts if t.get_gid() == "input_label"] == ["x0", "x1", "x2"]
    plt.close("all")


def test_plot_names_symbolic_edges_and_accepts_an_axes():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    clf_X, clf_y = X, (y > np.median(y)).astype(int)
    reg = KANRegressor(hidden_layer_sizes=(), grid_size=5, random_state=0, max_iter=200).fit(X, y).auto_symbolic(X, y)
    fig, ax = plt.subplots()
    assert reg.plot(ax=ax, input_names=["a", "b"], output_names=["y"]) is ax
    titles = sorted(inset.get_title() for inset in ax.child_axes)
    assert titles == sorted(r["function"] for r in reg.symbolic_fits_)
    clf = KANClassifier(hidden_layer_sizes=(), random_state=0, max_iter=20).fit(clf_X, clf_y)
    figures_before = len(plt.get_fignums())
    clf_ax = clf.plot()
    assert isinstance(clf_ax, matplotlib.axes.Axes) and clf_ax is not ax
    assert len(plt.get_fignums()) == figures_before + 1  # a new figure of its own
    assert [t.get_text() for t in clf_ax.texts if t.get_gid() == "input_label"] == ["x0", "x1"]
    # The output node is the positive class's score.
    assert [t.get_text() for t in clf_ax.texts if t.get_gid() == "output_label"] == ["1"]
    # Binary: one decision score, so one inset curve per input edge.
    assert clf.module_.widths == [2, 1]
    assert len(clf_ax.child_axes) == 2
    with pytest.raises(NotFittedError):
        KANRegressor().plot()
    plt.close("all")
