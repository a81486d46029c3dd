"""Fused CPU kernels for the B-spline basis and its input gradient (numba).

The eager torch formulation of :mod:`skkan.nn.basis` materialises every
intermediate (the interval index, the gathered polynomial rows, each Horner step,
the column indices) as a tensor the size of the batch: a dozen passes over memory
per layer and direction. Here one compiled kernel per direction does the whole work
block of rows by block of rows, reading the small per-interval tables from cache:
the dense basis is written once in the forward pass and ``dL/dx`` read off
``dL/dbasis`` in one pass in the backward pass (recomputing the local derivative
instead of saving it).

numba is imported, and the kernels compiled (or loaded from numba's on-disk cache),
only on the first call large enough to use them, so ``import skkan`` and tiny fits
never pay for it. Without numba, or with the environment variable
``SKKAN_COMPILED_KERNELS=0``, :mod:`skkan.nn.basis` uses its torch formulation (the
same values to rounding). The kernels run on contiguous CPU float32 or float64
tensors, in the calling thread: torch's OpenMP workers keep spinning for a while
after each parallel operation, so a second kernel thread only competes with them for
the cores (measured here: splitting a batch over two threads made layer steps and
whole fits 0-10 % slower, not faster).
"""

import os
import threading

import torch

__all__ = ["available", "basis_backward", "basis_forward", "usable"]

# Below this many (row, input) elements the eager torch path is used: importing numba
# (~0.25 s) and loading the kernels would cost more than a small fit saves.
MIN_ELEMENTS = 4096

_STATE = {"numba": None, "kernels": {}}
_LOCK = threading.Lock()


def _enabled_by_environment():
    return os.environ.get("SKKAN_COMPILED_KERNELS", "1").strip().lower() not in {"0", "false", "no", "off"}


def available():
    """Whether the compiled kernels can run (numba importable and not disabled)."""
    if not _enabled_by_environment():
        return False
    if _STATE["numba"] is None:
        try:
            import numba  # noqa: F401
        except Exception:  # ImportError, or a numba/numpy version mismatch
            _STATE["numba"] = False
        else:
            _STATE["numba"] = True
    return _STATE["numba"]


def usable(x, tables):
    """Whether ``x`` (batch, in) with ``tables`` can take the compiled path."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and x.dim() == 2
        and x.numel() >= MIN_ELEMENTS
        and tables.rows.dtype == x.dtype
        and tables.rows.device.type == "cpu"
        and available()
    )


def _kernels(k):
    kernels = _STATE["kernels"].get(k)
    if kernels is None:
        with _LOCK:
            kernels = _STATE["kernels"].get(k)
            if kernels is None:
                from ._kernels import make_kernels

                kernels = _STATE["kernels"][k] = make_kernels(k)
    return kernels


def _numpy(tensor):
    return tensor.detach().contiguous().numpy()


def _grid_arrays(tables):
    """The tables both kernels read: low, high, inner knots per input, rows."""
    return _numpy(tables.low), _numpy(tables.high), _numpy(tables.inner_knots), _numpy(tables.rows)


def basis_forward(x, tables):
    """Dense basis ``(batch, in, G + k)`` of ``x``; see :func:`usable`."""
    k = tables.spline_order
    n_rows, n_inputs = x.shape
    grid_size = tables.rows.shape[0] // n_inputs
    out = torch.empty(n_rows, n_inputs, grid_size + k, dtype=x.dtype)
    low, high, inner, rows = _grid_arrays(tables)
    minus_one = _numpy(tables.minus_one)[()]
    forward, _ = _kernels(k)
    forward(
        _numpy(x),
        low,
        high,
        inner,
        rows,
        _numpy(tables.start),
        _numpy(tables.tail_slope_low),
        _numpy(tables.tail_slope_high),
        grid_size,
        minus_one,
        out.numpy(),
    )
    return out


def basis_backward(x, grad_dense, tables):
    """``dL/dx`` from ``dL/dbasis`` (first order; see :func:`usable`)."""
    k = tables.spline_order
    n_rows, n_inputs = x.shape
    grid_size = tables.rows.shape[0] // n_inputs
    grad_x = torch.empty(n_rows, n_inputs, dtype=x.dtype)
    low, high, inner, rows = _grid_arrays(tables)
    _, backward = _kernels(k)
    backward(
        _numpy(x),
        _numpy(grad_dense.to(x.dtype)),
        low,
        high,
        inner,
        rows,
        _numpy(tables.dpoly),
        _numpy(tables.start),
        grid_size,
        _numpy(tables.minus_one)[()],
        grad_x.numpy(),
    )
    return grad_x
