from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline import redact


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    """Each test starts with an empty registry of secret values (``pipeline.redact``)."""
    redact.clear()
    yield
    redact.clear()
