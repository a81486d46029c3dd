"""Structure of a law read off the derivatives of a smooth surrogate (private).

AI Feynman finds separability and symmetries by differentiating a neural network
fitted to the data; KAN 2.0's tree converter does the same with Hessians. A fitted
KAN is smooth (cubic splines and SiLU, twice differentiable), so ``torch.autograd``
gives its exact first and second derivatives at every row, and these identities of
a function ``f`` of the inputs hold at every row, for signed inputs as well as
positive ones and with no transform of the target:

* additive separability, ``f = g(x_A) + h(x_B)``: ``f_ab == 0`` for ``a`` in ``A``
  and ``b`` in ``B``;
* multiplicative separability, ``f = g(x_A) * h(x_B)``: ``f * f_ab == f_a * f_b``
  (the mixed partial of ``log|f|`` vanishes, with no logarithm taken);
* ``f`` depends on ``x_i`` and ``x_j`` only through ``x_i - x_j``: ``f_i + f_j == 0``;
  through ``x_i * x_j``: ``x_i f_i == x_j f_j``; through ``x_i / x_j``:
  ``x_i f_i + x_j f_j == 0``.

Each identity is scored on a scale-free footing: the residual is divided by the size
of the terms it compares (or, for a mixed partial, by the spread of ``f`` over the
spreads of the two inputs) and the median is taken over rows, so neither units nor a
few rows near a zero of ``f`` or at the edge of the data decide. A fitted network's
derivatives are approximate; the thresholds leave margin for that (see
tests/discovery/test_structure.py for what trained networks give).

The surrogate is a callable from a float64 tensor of rows ``(n, d)`` to ``(n,)`` or
``(n, 1)``, row by row (each output depends on its own row only): any torch function,
or a fitted network in the units of the data (:func:`network_function`).
Symmetries are properties of the raw inputs (a shift or a scale of one column breaks
``x_i * x_j``) and multiplicative separability of the raw target (an offset breaks
it), so a network must be wrapped with its input and output scaling.
"""

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Derivatives",
    "additive_coupling",
    "additive_groups",
    "cross_separability",
    "cross_tree",
    "decompose",
    "input_derivatives",
    "multiplicative_coupling",
    "multiplicative_groups",
    "network_function",
    "symmetric_merges",
]

# A pair of inputs interacts (is not separable) when its coupling exceeds this. Exact
# functions give about 1e-16 for separable pairs and 0.1 to 1 for interacting ones;
# trained networks give more for separable pairs (see the tests).
ADDITIVE_THRESHOLD = 0.05
MULTIPLICATIVE_THRESHOLD = 0.2
# A merge x_i op x_j is detected when the median relative residual of its identity is
# below this (a function of the merged variable gives about 1e-16 exactly; one that
# is not gives 0.3 and more on most rows).
MERGE_THRESHOLD = 0.1
# An input is relevant when its first derivative times its spread reaches this
# share of the spread of f (median over rows): merges of irrelevant inputs hold
# trivially and are not reported.
RELEVANCE_THRESHOLD = 0.01
MERGE_OPERATIONS = ("-", "*", "/")


@dataclass(frozen=True)
class Derivatives:
    """Values, gradient and Hessian of a surrogate at the rows ``X`` (numpy float64).

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
    values : ndarray of shape (n_samples,)
    gradient : ndarray of shape (n_samples, n_features)
    hessian : ndarray of shape (n_samples, n_features, n_features)
    """

    X: np.ndarray
    values: np.ndarray
    gradient: np.ndarray
    hessian: np.ndarray

    @property
    def input_spread(self):
        """Standard deviation of every input (1 where an input is constant)."""
        spread = np.std(self.X, axis=0)
        return np.where(spread > 0, spread, 1.0)

    @property
    def value_spread(self):
        """Standard deviation of ``f`` over the rows (1 for a constant ``f``)."""
        spread = float(np.std(self.values))
        return spread if spread > 0 else 1.0


def input_derivatives(function, X):
    """Exact first and second derivatives of ``function`` at every row of ``X``.

    Parameters
    ----------
    function : callable
        Maps a float64 tensor ``(n, d)`` to ``(n,)`` or ``(n, 1)``, row by row; it must
        be twice differentiable by ``torch.autograd`` (``create_graph=True``).
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    Derivatives
    """
    X = np.asarray(X, dtype=np.float64)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    values = function(x).reshape(len(X))
    # Rows are independent, so the gradient of the sum is every row's gradient, and
    # the gradient of one column of it is one row of every row's Hessian.
    (gradient,) = torch.autograd.grad(values.sum(), x, create_graph=True)
    rows = []
    for k in range(X.shape[1]):
        if gradient.requires_grad:
            (second,) = torch.autograd.grad(gradient[:, k].sum(), x, retain_graph=True, allow_unused=True)
        else:
            second = None  # f is linear in every input: no graph left to differentiate
        rows.append(torch.zeros_like(x) if second is None else second)
    hessian = torch.stack(rows, dim=1)
    return Derivatives(X, values.detach().numpy().copy(), gradient.detach().numpy().copy(), hessian.detach().numpy())


def _derivatives(function_or_derivatives, X):
    if isinstance(function_or_derivatives, Derivatives):
        return function_or_derivatives
    return input_derivatives(function_or_derivatives, X)


def additive_coupling(derivatives):
    """How far every pair of inputs is from additive separability.

    ``median_rows |f_ab| * std(x_a) * std(x_b) / std(f)``: the share of the spread of
    ``f`` that the pair's interaction makes (``x0*x1`` on ``[-1, 1]**2``: 1; on
    ``[1, 2]**2``, where the product is nearly additive: 0.14), independent of units.

    Returns
    -------
    ndarray of shape (n_features, n_features)
        Symmetric, zero on the diagonal.
    """
    spread = derivatives.input_spread
    coupling = np.median(np.abs(derivatives.hessian), axis=0) * np.outer(spread, spread) / derivatives.value_spread
    coupling = (coupling + coupling.T) / 2
    np.fill_diagonal(coupling, 0.0)
    return coupling


def _median_ratio(residual, terms):
    """``median|residual| / median(terms)`` over rows (axis 0), 0 where both vanish.

    A ratio of medians rather than a median of ratios: rows near a zero of ``f`` or of
    a derivative, where every term is small and a fitted network's error dominates,
    weigh no more than their share of the terms, and a few rows where a network's
    derivatives run wild at the edge of the data do not move it.
    """
    numerator = np.median(np.abs(residual), axis=0)
    denominator = np.median(terms, axis=0)
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0)


def multiplicative_coupling(derivatives):
    """How far every pair of inputs is from multiplicative separability.

    ``median_rows |f f_ab - f_a f_b| / median_rows (|f f_ab| + |f_a f_b|)``: 0 for
    ``f = g(x_a, ...) * h(x_b, ...)`` whatever the signs, about 1 when one term is
    absent (``x_a + x_b``); scale-free in ``f`` and in every input.

    Returns
    -------
    ndarray of shape (n_features, n_features)
        Symmetric, zero on the diagonal.
    """
    f = derivatives.values[:, None, None]
    gradient = derivatives.gradient
    left = f * derivatives.hessian
    right = gradient[:, :, None] * gradient[:, None, :]
    coupling = _median_ratio(left - right, np.abs(left) + np.abs(right))
    coupling = (coupling + coupling.T) / 2
    np.fill_diagonal(coupling, 0.0)
    return coupling


def separable_groups(coupling, threshold, inputs=None):
    """The finest partition of ``inputs`` with no coupled pair across two groups.

    The connected components of the graph whose edges are the pairs with coupling
    above ``threshold``; each group is a sorted tuple, groups ordered by first input.
    """
    inputs = list(range(len(coupling))) if inputs is None else sorted(inputs)
    group_of = {i: i for i in inputs}

    def root(i):
        while group_of[i] != i:
            group_of[i] = group_of[group_of[i]]
            i = group_of[i]
        return i

    for position, a in enumerate(inputs):
        for b in inputs[position + 1 :]:
            if coupling[a, b] > threshold:
                group_of[root(a)] = root(b)
    groups = {}
    for i in inputs:
        groups.setdefault(root(i), []).append(i)
    return sorted(tuple(group) for group in groups.values())


def additive_groups(function, X, threshold=ADDITIVE_THRESHOLD):
    """Groups of inputs such that ``f`` is a sum of one function per group.

    Parameters
    ----------
    function : callable or Derivatives
        The surrogate (see :func:`input_derivatives`), or its derivatives at ``X``.
    X : array-like of shape (n_samples, n_features)
    threshold : float
        Largest :func:`additive_coupling` of two inputs in different groups.

    Returns
    -------
    list of tuple of int
        ``x0*x1 + sin(x2)``: ``[(0, 1), (2,)]``.
    """
    return separable_groups(additive_coupling(_derivatives(function, X)), threshold)


def multiplicative_groups(function, X, threshold=MULTIPLICATIVE_THRESHOLD):
    """Groups of inputs such that ``f`` is a product of one function per group.

    As :func:`additive_groups`, with :func:`multiplicative_coupling`: no logarithm is
    taken, so signed inputs and signed ``f`` are fine. ``x0*sin(x1)*exp(x2)``:
    ``[(0,), (1,), (2,)]``.
    """
    return separable_groups(multiplicative_coupling(_derivatives(function, X)), threshold)


def relevance(derivatives):
    """``median_rows |f_i| * std(x_i) / std(f)`` for every input (0: ``f`` ignores it)."""
    return np.median(np.abs(derivatives.gradient), axis=0) * derivatives.input_spread / derivatives.value_spread


def merge_residuals(derivatives):
    """Relative residual of each merge's identity, for every pair of inputs ``i < j``.

    Returns
    -------
    dict
        ``(i, j, op) -> median_rows |residual| / median_rows (|first term| + |second
        term|)``, ``op`` in ``("-", "*", "/")``: the residual is ``f_i + f_j`` for
        ``x_i - x_j``, ``x_i f_i - x_j f_j`` for ``x_i * x_j`` and ``x_i f_i + x_j f_j``
        for ``x_i / x_j``; 0 when ``f`` depends on the pair through the merge only.
    """
    X, gradient = derivatives.X, derivatives.gradient
    residuals = {}
    n_features = X.shape[1]
    for i in range(n_features):
        for j in range(i + 1, n_features):
            fi, fj = gradient[:, i], gradient[:, j]
            residuals[(i, j, "-")] = float(_median_ratio(fi + fj, np.abs(fi) + np.abs(fj)))
            left, right = X[:, i] * fi, X[:, j] * fj
            terms = np.abs(left) + np.abs(right)
            residuals[(i, j, "*")] = float(_median_ratio(left - right, terms))
            residuals[(i, j, "/")] = float(_median_ratio(left + right, terms))
    return residuals


def symmetric_merges(function, X, threshold=MERGE_THRESHOLD, relevance_threshold=RELEVANCE_THRESHOLD):
    """Pairs of inputs that ``f`` depends on only through their difference, product or ratio.

    Parameters
    ----------
    function : callable or Derivatives
        The surrogate in the raw units of the inputs, or its derivatives at ``X``.
    X : array-like of shape (n_samples, n_features)
    threshold : float
        Largest median relative residual (:func:`merge_residuals`) of a detected merge.
    relevance_threshold : float
        Both inputs of a merge must reach this :func:`relevance` (a function that
        ignores both satisfies every identity).

    Returns
    -------
    list of tuple
        ``(i, j, op)`` with ``i < j`` and ``op`` in ``("-", "*", "/")``, in the notation
        of :func:`skkan.discovery._screen.merged_column` (``x_i op x_j``), best first.
        ``cos(x0 - x1) + x2``: ``[(0, 1, "-")]``.
    """
    derivatives = _derivatives(function, X)
    relevant = relevance(derivatives) >= relevance_threshold
    found = [
        (residual, merge)
        for merge, residual in merge_residuals(derivatives).items()
        if residual <= threshold and relevant[merge[0]] and relevant[merge[1]]
    ]
    return [merge for _, merge in sorted(found)]


@dataclass(frozen=True)
class Structure:
    """A node of the decomposition of ``f`` (see :func:`decompose`).

    Attributes
    ----------
    kind : {"sum", "product", "leaf"}
        ``f`` restricted to ``inputs`` is the sum or the product of its children, or
        is not separable further.
    inputs : tuple of int
    children : tuple of Structure
    merges : tuple of tuple
        For a leaf: the merges ``(i, j, op)`` among its inputs (:func:`symmetric_merges`).
    """

    kind: str
    inputs: tuple
    children: tuple = ()
    merges: tuple = ()

    def describe(self):
        """A one-line reading: ``(f(x0, x1) + f(x2))``, merges as ``x0-x1``."""
        if self.kind == "leaf":
            names = [f"x{i}" for i in self.inputs]
            for i, j, op in self.merges:
                if f"x{i}" in names and f"x{j}" in names:
                    names.remove(f"x{j}")
                    names[names.index(f"x{i}")] = f"x{i}{op}x{j}"
            return f"f({', '.join(names)})"
        joiner = " + " if self.kind == "sum" else " * "
        return "(" + joiner.join(child.describe() for child in self.children) + ")"


def decompose(function, X, *, additive_threshold=ADDITIVE_THRESHOLD,
              multiplicative_threshold=MULTIPLICATIVE_THRESHOLD, merge_threshold=MERGE_THRESHOLD):
    """Recursive decomposition of ``f`` into sums and products of functions of fewer inputs.

    At each node the inputs are split into additive groups, else into multiplicative
    groups, and each group is decomposed in turn. Both splits read ``f``'s own
    derivatives: within an additive group ``A`` the mixed partials of ``f`` are those of
    its term ``g(x_A)``, and within a multiplicative factor the mixed partials of
    ``log|f|`` are those of the factor, so a factor's factors and a factor's terms
    follow from ``f``. A term of a sum is known only up to an additive constant (the
    split of constants between terms is arbitrary), so a term is not split into a
    product; it stays a leaf, or splits into further terms. Inputs that ``f`` does not
    depend on (:func:`relevance` below :data:`RELEVANCE_THRESHOLD`) are left out.

    Returns
    -------
    Structure
    """
    derivatives = _derivatives(function, X)
    additive = additive_coupling(derivatives)
    multiplicative = multiplicative_coupling(derivatives)
    merges = symmetric_merges(derivatives, None, threshold=merge_threshold)
    relevant = tuple(int(i) for i in np.flatnonzero(relevance(derivatives) >= RELEVANCE_THRESHOLD))

    def node(inputs, allow_product):
        groups = separable_groups(additive, additive_threshold, inputs)
        kind = "sum"
        if len(groups) == 1 and allow_product:
            groups = separable_groups(multiplicative, multiplicative_threshold, inputs)
            kind = "product"
        if len(groups) == 1:
            inside = tuple(merge for merge in merges if merge[0] in inputs and merge[1] in inputs)
            return Structure("leaf", tuple(inputs), merges=inside)
        # Terms of a sum are defined up to a constant, so they are not split into products.
        children = tuple(node(group, allow_product=kind == "product") for group in groups)
        return Structure(kind, tuple(inputs), children)

    return node(relevant, allow_product=True)


# Rows and values of an input in a cross table of :func:`cross_separability` (its
# cost grows with their product; 32 x 32 tell a separable pair from an interacting
# one at a surrogate's precision of about 1 %).
CROSS_SIZE = 32
# A split is separable when the cross table's residual, in the units of f, is at most
# this many times the surrogate's held-out RMS error (or CROSS_FLOOR of the table's
# spread, for a surrogate that is nearly exact). Measured on three signed laws of
# 3-5 inputs, 3 seeds each, in those units: separable splits 0.3-1.2, interacting
# ones 5 and more.
CROSS_ERROR_FACTOR = 2.5
CROSS_FLOOR = 0.005


def _cross_table(function, X, inputs, single, reference, rng):
    """``f`` at every pairing of a data row's ``x_single`` with another data row's
    other ``inputs``, inputs outside ``inputs`` at ``reference``: a CROSS_SIZE square."""
    n = min(CROSS_SIZE, len(X))
    values_of_single = X[rng.choice(len(X), n, replace=False), single]
    others = [i for i in inputs if i != single]
    rows_of_others = X[rng.choice(len(X), n, replace=False)][:, others]
    rows = np.repeat(np.asarray(reference, dtype=np.float64)[None, :], n * n, axis=0)
    rows[:, single] = np.repeat(values_of_single, n)
    rows[:, others] = np.tile(rows_of_others, (n, 1))
    with torch.no_grad():
        values = function(torch.as_tensor(rows, dtype=torch.float64)).reshape(n * n).numpy()
    return values.reshape(n, n)


def cross_separability(function, X, inputs, single, reference, random_state=0):
    """Residuals of ``f`` as a sum and as a product of ``g(x_single)`` and ``h(rest)``.

    AI Feynman's test by evaluation rather than by derivatives: a table ``T[k, j]`` of
    ``f`` at ``x_single`` from row ``k`` and the other inputs from row ``j`` is
    ``g_k + h_j`` for an additive split (its double-centred residual vanishes) and
    ``g_k * h_j`` for a multiplicative one (rank one: its second singular value
    vanishes). Values are compared, not second derivatives, so a surrogate's error
    enters once rather than amplified (four signed factors: derivative couplings of
    0.2 at 1 % error, table residuals of 0.3 %).

    Returns
    -------
    additive, multiplicative : float
        RMS residuals over the table, in the units of ``f``.
    spread : float
        Standard deviation of the table's values.
    """
    rng = np.random.default_rng(random_state)
    table = _cross_table(function, np.asarray(X, dtype=np.float64), list(inputs), single, reference, rng)
    centred = table - table.mean(axis=0, keepdims=True) - table.mean(axis=1, keepdims=True) + table.mean()
    singular = np.linalg.svd(table, compute_uv=False)
    additive = float(np.sqrt(np.mean(centred**2)))
    multiplicative = float(np.sqrt(np.sum(singular[1:] ** 2) / table.size))
    return additive, multiplicative, float(np.std(table))


def cross_tree(function, X, reference, error, random_state=0):
    """Sums and products of ``f`` found by :func:`cross_separability`, recursively.

    At each node the inputs that split off one at a time as terms make a sum (the
    others form one more term, split again as a sum); else those that split off as
    factors make a product (the others form one more factor, split again as a sum or
    a product). A term is not split into a product: it is known only up to an additive
    constant (the product screen of the leaf's discovery fits that constant).
    Inputs whose table barely varies (:data:`RELEVANCE_THRESHOLD` of ``f``'s spread)
    are left out at the top.

    Parameters
    ----------
    function : callable
        The surrogate (see :func:`input_derivatives`).
    X : ndarray of shape (n_samples, n_features)
        Rows the tables draw from.
    reference : ndarray of shape (n_features,)
        Values of the inputs outside a node.
    error : float
        The surrogate's RMS error on rows it never saw, in the units of ``f``.

    Returns
    -------
    Structure
    """
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    with torch.no_grad():
        spread = float(np.std(function(torch.as_tensor(X, dtype=torch.float64)).reshape(len(X)).numpy()))

    def node(inputs, allow_product):
        if len(inputs) == 1:
            return Structure("leaf", tuple(inputs))
        residuals = {}
        for single in inputs:
            additive, multiplicative, table_spread = cross_separability(
                function, X, inputs, single, reference, int(rng.integers(2**31))
            )
            tolerance = max(CROSS_ERROR_FACTOR * error, CROSS_FLOOR * table_spread)
            residuals[single] = (additive <= tolerance, multiplicative <= tolerance)
        for kind, column in (("sum", 0), ("product", 1)):
            if kind == "product" and not allow_product:
                break
            singles = [i for i in inputs if residuals[i][column]]
            if not singles:
                continue
            rest = [i for i in inputs if i not in singles]
            if len(singles) == len(inputs) - 1 and len(rest) == 1:
                singles, rest = list(inputs), []  # the last input is then a part of its own
            children = [Structure("leaf", (i,)) for i in singles]
            if rest:
                children.append(node(rest, allow_product=kind == "product"))
            return Structure(kind, tuple(inputs), tuple(children))
        return Structure("leaf", tuple(inputs))

    relevant = []
    for single in range(X.shape[1]):
        others = [i for i in range(X.shape[1]) if i != single] or [single]
        table = _cross_table(function, X, [single] + [i for i in others if i != single], single, reference, rng)
        # An input f ignores leaves every column of its table constant.
        if float(np.sqrt(np.mean((table - table.mean(axis=0, keepdims=True)) ** 2))) > RELEVANCE_THRESHOLD * spread:
            relevant.append(single)
    return node(relevant, allow_product=True) if relevant else Structure("leaf", ())


def network_function(network):
    """A fitted network as a function of raw rows, in the units of the target.

    Parameters
    ----------
    network : skkan._operations.FittedNetwork
        The trained network with its input scaling and targets (one output).

    Returns
    -------
    callable
        Float64 tensor ``(n, d)`` of raw rows -> ``(n,)``, twice differentiable: the
        rows are centred, scaled and clipped as in training, and the output mapped
        back to the target's units (its offset matters for multiplicative
        separability, its scaling for nothing).
    """
    module = network.cpu64()
    scale, offset = (float(np.ravel(value)[0]) for value in network.targets.output_transform())
    scaler = network.scaler

    def function(x):
        return module(scaler.transform_tensor(x, torch.float64))[:, 0] * scale + offset

    return function
