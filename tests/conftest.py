import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESTORELAB_DATA", ROOT.parent / "shared" / "datasets"))


@pytest.fixture
def data_root():
    if not DATA.is_dir():
        pytest.skip(f"shared datasets not found at {DATA}")
    return DATA
