"""numba kernels behind :mod:`skkan.nn._compiled` (imported only when first used)."""

import numba

__all__ = ["make_kernels"]


def _jit(function):
    """``numba.njit`` that releases the GIL, cached on disk where a cache can be written."""
    try:
        return numba.njit(nogil=True, cache=True, boundscheck=False)(function)
    except RuntimeError:  # no writable cache location (read-only install, no home)
        return numba.njit(nogil=True, cache=False, boundscheck=False)(function)


@_jit
def _locate(x_value, low, high, inner, i, grid_size):
    """Clamp ``x_value`` to the grid range; row of its interval in the tables."""
    clamped = min(max(x_value, low), high)
    n_inner = inner.shape[1]
    if n_inner <= 16:
        interval = 0
        for q in range(n_inner):
            interval += clamped >= inner[i, q]
    else:  # bisection for the first inner knot above the value
        lo, hi = 0, n_inner
        while lo < hi:
            mid = (lo + hi) // 2
            if clamped >= inner[i, mid]:
                lo = mid + 1
            else:
                hi = mid
        interval = lo
    return clamped, i * grid_size + interval


def make_kernels(k):
    """Forward and backward kernels for spline order ``k`` (a compile-time constant)."""
    # Fixed k lets the compiler unroll the k + 1 bases and the Horner steps (2.7x
    # faster than a loop bound read at run time, measured for k = 3).
    n_active = k + 1
    n_coefficients = n_active * n_active
    # The closures capture only integers (the locate kernel is a module global), so
    # numba's on-disk cache finds them again in the next process.

    @_jit
    def forward(x, low, high, inner, rows, start, tail_low, tail_high, grid_size, minus_one, out):
        n_inputs = x.shape[1]
        n_basis = out.shape[2]
        for b in range(x.shape[0]):
            for i in range(n_inputs):
                value = x[b, i]
                clamped, row = _locate(value, low[i], high[i], inner, i, grid_size)
                column = start[row]
                u = (clamped - rows[row, 1]) * rows[row, 0] + minus_one
                for c in range(n_basis):
                    out[b, i, c] = 0
                for r in range(n_active):
                    acc = rows[row, 2 + n_coefficients - n_active + r]
                    for d in range(k - 1, -1, -1):
                        acc = acc * u + rows[row, 2 + d * n_active + r]
                    out[b, i, column + r] = acc
                if value != clamped:
                    # Linear tails beyond the grid (see skkan.nn.basis).
                    if value < clamped:
                        for r in range(n_active):
                            out[b, i, column + r] += (value - clamped) * tail_low[i, r]
                    else:
                        for r in range(n_active):
                            out[b, i, column + r] += (value - clamped) * tail_high[i, r]

    @_jit
    def backward(x, grad, low, high, inner, rows, dpoly, start, grid_size, minus_one, grad_x):
        n_inputs = x.shape[1]
        for b in range(x.shape[0]):
            for i in range(n_inputs):
                clamped, row = _locate(x[b, i], low[i], high[i], inner, i, grid_size)
                column = start[row]
                u = (clamped - rows[row, 1]) * rows[row, 0] + minus_one
                total = minus_one - minus_one
                for r in range(n_active):
                    acc = dpoly[row, k - 1, r]
                    for d in range(k - 2, -1, -1):
                        acc = acc * u + dpoly[row, d, r]
                    total += acc * grad[b, i, column + r]
                grad_x[b, i] = total

    return forward, backward
