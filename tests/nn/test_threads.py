"""Thread-pool limits with the pools looked up once."""

import sys

import threadpoolctl

from skkan.nn import _threads
from skkan.nn._threads import limited_threads


def _threads_by_api():
    return {(pool["user_api"], pool["filepath"]): pool["num_threads"] for pool in threadpoolctl.threadpool_info()}


def test_limit_applies_inside_and_is_restored_after():
    import numpy  # noqa: F401 (a BLAS pool to limit)

    # Two threads outside, so that the limit of one is seen (the test runner's workers
    # run with one).
    with threadpoolctl.threadpool_limits(limits=2):
        before = _threads_by_api()
        assert 2 in before.values()
        with limited_threads(1):
            assert set(_threads_by_api().values()) == {1}
        assert _threads_by_api() == before
        with limited_threads(1, user_api="blas"):
            inside = _threads_by_api()
            assert all(n == 1 for (api, _), n in inside.items() if api == "blas")
            assert all(inside[key] == before[key] for key in inside if key[0] != "blas")
        with limited_threads(None):
            assert _threads_by_api() == before


def test_pools_are_looked_up_again_only_after_an_import(monkeypatch):
    created = []
    original = threadpoolctl.ThreadpoolController

    def counting():
        created.append(1)
        return original()

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", counting)
    monkeypatch.setattr(_threads, "_CONTROLLER", {})
    for _ in range(3):
        with limited_threads(1):
            pass
    assert len(created) == 1
    monkeypatch.setitem(sys.modules, "skkan_probe_module_never_imported", object())
    with limited_threads(1):
        pass
    assert len(created) == 2
