"""Finite numbers: what counts as a score, and non-finite values made fit for JSON.

A value a framework could not record is NaN; JSON has no NaN or infinity, and Python counts a bool
as an int although a JSON `true` is no score. Shared by the report and the registry.
"""

from __future__ import annotations

import math
from typing import Any


def is_finite_number(value: Any) -> bool:
    """Whether `value` is an int or float (not a bool) with a finite value."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN or infinite float in it (through dicts, lists, tuples) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value
