import os
from pathlib import Path

import pytest

# California Housing cannot be downloaded on machines without internet; the shared
# folder holds scikit-learn's own cache file for it.
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scikit_learn_data"
if _SHARED_DATA.is_dir():
    os.environ.setdefault("SCIKIT_LEARN_DATA", str(_SHARED_DATA))


@pytest.fixture(scope="session")
def california():
    from sklearn.datasets import fetch_california_housing

    try:
        return fetch_california_housing(return_X_y=True, as_frame=True)
    except OSError as error:  # pragma: no cover - offline without the cached file
        pytest.skip(f"California Housing is not available: {error}")
