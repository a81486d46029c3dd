"""A cheap screen for additive structure (private; used by formula discovery).

An additive KAN (one layer, ``sum_i f_i(x_i)``) snaps reliably; a hidden layer much
less so. Many laws become additive once the target is transformed (``log y``,
``1/y``, ``sin y``) and, often, once two inputs are merged into one by a change of
variables: a product or ratio ``x_i * x_j``, ``x_i / x_j`` (``theta/sigma`` in a
Gaussian, ``k*d`` in ``cos(k*d)``, ``n/d2`` in ``1/(1/d1 + n/d2)``) or a difference
``x_i - x_j`` (``theta1 - theta2``), or two merges: a difference over a scale (``(theta -
theta1)/sigma`` in a Gaussian with a mean), or a ratio or difference and a difference
of four distinct inputs (the law of cosines squared over ``x1*x2`` is ``x1/x2 + x2/x1 -
2*cos(theta1 - theta2)``; a squared distance is ``(x2 - x1)**2 + (y2 - y1)**2``). Training and snapping a KAN for every
such candidate would cost seconds each; a least-squares fit of an additive cubic
spline costs milliseconds. :func:`additive_residuals` scores every candidate target
under every change of variables by the relative residual of that fit, so that
discovery trains KANs only on the candidates that look additive.
"""

import numpy as np

__all__ = [
    "MERGES", "additive_residuals", "apply_substitution", "design_columns", "merged_column", "polynomial_basis",
    "substitutions",
]

# Interior knots of the screening spline per input, half at quantiles (where the data
# are) and half evenly spaced (where a product such as k*d spreads thin but still
# oscillates): a cosine over four periods of a skewed k*d fits to a relative residual
# near 1e-5, and every fit stays in milliseconds.
SPLINE_KNOTS = 32


def spline_basis(x, n_knots=SPLINE_KNOTS):
    """Cubic truncated-power spline basis of one column, on quantile and even knots.

    The constant is left out (one shared intercept serves every input).
    """
    low, high = float(np.min(x)), float(np.max(x))
    t = (x - low) / (high - low) if high > low else np.zeros_like(x)
    levels = np.linspace(0.0, 1.0, n_knots // 2 + 2)[1:-1]
    knots = np.concatenate([np.quantile(t, levels), levels])
    return np.column_stack([t, t**2, t**3] + [np.clip(t - knot, 0.0, None) ** 3 for knot in knots])


# A change of variables is a tuple of merges ``(i, j, op)``, applied in turn: column
# ``i`` becomes ``x_i op x_j`` with op one of MERGES. Column ``j`` is always an input
# the change leaves as it is, so the result reads off the raw inputs.
MERGES = ("*", "/", "-")


def merged_column(left, right, op):
    """``left op right`` for a merge ``op`` of :data:`MERGES` (arrays or sympy)."""
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    if op == "-":
        return left - right
    raise ValueError(f"Unknown merge {op!r}; expected one of {MERGES}.")


def substitutions(X, max_changes=None):
    """Changes of variables to screen, the empty change ``()`` first.

    Single merges ``((i, j, op),)``: products and ratios of two strictly positive
    columns (they stay finite and one-signed) and differences of any two columns
    (one orientation: ``x_i - x_j`` with ``i < j``). Then, each kind only while the
    count stays within ``max_changes`` (all of them when None): products and ratios
    of a column that is not strictly positive and a positive one (``x_i / x_j``,
    ``x_j > 0``); a difference over a third, positive column (``(x_i - x_j) / x_k``, a
    standardised variable), and a product, ratio or difference with a difference of
    two other columns (four distinct columns).
    """
    positive = [int(i) for i in np.flatnonzero(np.all(X > 0, axis=0))]
    n_features = X.shape[1]
    ratios = [(i, j, op) for i in positive for j in positive if i != j for op in ("*", "/")]
    differences = [(i, j, "-") for i in range(n_features) for j in range(i + 1, n_features)]
    changes = [()] + [(merge,) for merge in ratios + differences]
    # A signed column over or times a positive one stays finite: theta/sigma in a
    # Gaussian of a signed theta, v/c in a relativistic factor of a signed velocity.
    signed = [(i, j, op) for i in range(n_features) if i not in positive for j in positive for op in ("*", "/")]
    standardised = [(difference, (difference[0], k, "/")) for difference in differences for k in positive if k not in difference[:2]]
    pairs = [
        (first, difference)
        for first in ratios + differences
        for difference in differences
        if not {first[0], first[1]} & {difference[0], difference[1]} and (first[2] != "-" or first < difference)
    ]
    for compound in ([(merge,) for merge in signed], standardised, pairs):
        if max_changes is None or len(changes) - 1 + len(compound) <= max_changes:
            changes.extend(compound)
    return changes


def apply_substitution(X, substitution):
    """``X`` with the change of variables applied (a copy when there is one)."""
    if not substitution:
        return X
    X = np.array(X, dtype=np.float64, copy=True)
    for i, j, op in substitution:
        X[:, i] = merged_column(X[:, i], X[:, j], op)
    return X


def polynomial_basis(x):
    """Cubic polynomial basis of one column (mapped onto [0, 1]), without the constant:
    the coarse basis that tells targets additive in low-degree polynomials from those
    only a spline fits (see :func:`skkan.discovery._trials.screened_trials`)."""
    low, high = float(np.min(x)), float(np.max(x))
    t = (x - low) / (high - low) if high > low else np.zeros_like(x)
    return np.column_stack([t, t**2, t**3])


def additive_residuals(X, targets, changes, basis=spline_basis, scales=None):
    """Relative residual of the best additive spline fit, per change and target.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of shape (n_samples, n_targets)
        Finite candidate targets (transforms of ``y``), one per column.
    changes : list of tuple
        Changes of variables, as :func:`substitutions` returns them.
    basis : callable, default=spline_basis
        The basis of one column (without the constant).
    scales : ndarray of shape (n_samples, n_targets), optional
        Per-row factors of the residuals (what a residual of a target is in the
        units of ``y``; see :func:`skkan.discovery._trials.screen_noise_level`).

    Returns
    -------
    ndarray of shape (len(changes), n_targets)
        ``mean(residual**2) / var(target)``: about ``1e-30`` for a target that is
        exactly additive in polynomial pieces, ``1e-12`` to ``1e-3`` for additive
        smooth functions, ``1e-2`` and more when the inputs interact.
    scaled : ndarray of shape (len(changes), n_targets)
        Only with ``scales``: ``mean((residual * scales)**2)``, not relative.
    """
    targets = np.asarray(targets, dtype=np.float64)
    variance = np.var(targets, axis=0)
    variance = np.where(variance > 0, variance, 1.0)
    raw_bases = [basis(X[:, k]) for k in range(X.shape[1])]
    intercept = np.ones((len(X), 1))
    residuals = np.empty((len(changes), targets.shape[1]))
    scaled = None if scales is None else np.empty_like(residuals)
    for row, change in enumerate(changes):
        bases = list(raw_bases)
        changed = apply_substitution(X, change)
        for i, _, _ in change:
            bases[i] = basis(changed[:, i])
        design = np.hstack(bases + [intercept])
        # All targets share the design: one least-squares solve for every column.
        coefficients = np.linalg.lstsq(design, targets, rcond=None)[0]
        misfit = targets - design @ coefficients
        residuals[row] = np.mean(misfit**2, axis=0) / variance
        if scales is not None:
            scaled[row] = np.mean((misfit * scales) ** 2, axis=0)
    return residuals if scales is None else (residuals, scaled)


def design_columns(n_features, basis=spline_basis):
    """Columns of :func:`additive_residuals`' design for ``n_features`` inputs (the
    fit's degrees of freedom, at most)."""
    return n_features * basis(np.linspace(0.0, 1.0, 8)).shape[1] + 1
