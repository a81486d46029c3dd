"""The per-process cache of results keyed by arrays."""

import numpy as np

from skkan.discovery._cache import ArrayCache, array_digest


def test_digest_follows_values_shapes_and_settings():
    a = np.arange(6.0)
    assert array_digest((a,), 1) == array_digest((a.copy(),), 1)
    assert array_digest((a,), 1) != array_digest((a,), 2)
    assert array_digest((a,)) != array_digest((a.reshape(2, 3),))
    assert array_digest((a,)) != array_digest((a + 1e-12,))


def test_cache_keeps_the_most_recently_used_entries():
    cache = ArrayCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2
