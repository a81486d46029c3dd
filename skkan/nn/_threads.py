"""Limits on the thread pools of BLAS and OpenMP, with the pools looked up once.

``threadpoolctl.threadpool_limits`` finds the pools by reading every loaded library
at each call (a few milliseconds); formula discovery enters such a limit hundreds of
times per fit, around many small solves where threads only contend.
"""

import contextlib
import sys

__all__ = ["limited_threads"]

# The controller and the number of imported modules when it looked the pools up: an
# import since then may have loaded a new pool (scipy's BLAS), so it looks again.
_CONTROLLER = {}


def limited_threads(limit, user_api=None):
    """``threadpoolctl.threadpool_limits(limit, user_api)`` as a context manager,
    without looking the pools up again while no module has been imported since.

    ``limit=None`` sets no limit.
    """
    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import ThreadpoolController

    key = len(sys.modules)
    cached = _CONTROLLER.get("controller")
    if cached is None or cached[0] != key:
        cached = (key, ThreadpoolController())
        _CONTROLLER["controller"] = cached
    return cached[1].limit(limits=limit, user_api=user_api)
