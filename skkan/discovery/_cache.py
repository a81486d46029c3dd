"""A small per-process cache of results keyed by the arrays they were computed from
(private; used by discovery, where one stage may need what the stage before it fitted
on the same data)."""

import hashlib
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["ArrayCache", "array_digest"]


def array_digest(arrays, settings=()):
    """A digest of float64 arrays (values and shapes) and of ``repr(settings)``."""
    digest = hashlib.blake2b(repr(settings).encode())
    for array in arrays:
        array = np.ascontiguousarray(array, dtype=np.float64)
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ArrayCache:
    """The ``maxsize`` most recently stored values, by key (thread-safe)."""

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The value stored under ``key`` (now the most recent), or None."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key, value):
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def __len__(self):
        return len(self._entries)
