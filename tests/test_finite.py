"""crosstrain.finite: the one test of a score and the one NaN-to-null rule for JSON.

    .venv/bin/python -m pytest tests/test_finite.py -q
"""

from __future__ import annotations

import json
import math

import numpy as np

from crosstrain.finite import finite_or_none, is_finite_number


def test_only_finite_ints_and_floats_are_numbers():
    # Given values a metrics file may hold; then only the real, finite numbers count as scores
    assert [is_finite_number(v) for v in (1, 0.5, np.float64(2.0))] == [True, True, True]
    assert not any(is_finite_number(v) for v in (True, math.nan, math.inf, -math.inf, "1", None))


def test_non_finite_floats_become_null_at_any_depth():
    # Given a report with NaN and inf nested in dicts, lists and tuples
    report = {"a": math.nan, "b": [1.0, (math.inf, 2)], "c": {"d": -math.inf, "e": "x", "f": True}}
    # When it is made fit for JSON
    clean = finite_or_none(report)
    # Then strict JSON accepts it, every non-finite float is null and everything else is kept
    assert json.loads(json.dumps(clean, allow_nan=False)) == {
        "a": None, "b": [1.0, [None, 2]], "c": {"d": None, "e": "x", "f": True}
    }
