"""JSON text that every parser reads: no ``NaN`` or ``Infinity``.

Python's ``json`` writes ``float("inf")`` as ``Infinity``, which is not JSON. Everything the
pipeline writes as JSON (``--json`` output, journal payloads, report data) goes through
``dumps``: a non-finite number becomes ``null`` (a ratio against a zero baseline, a
latency with no data: "no finite value"), and ``allow_nan=False`` makes sure none slips by.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "finite"]


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (inf, -inf, nan) replaced by None, in dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``finite(value)``, strict: ``allow_nan=False``."""
    default = kwargs.pop("default", None)
    if default is not None:
        fallback = default
        kwargs["default"] = lambda o: finite(fallback(o))
    return json.dumps(finite(value), allow_nan=False, **kwargs)
