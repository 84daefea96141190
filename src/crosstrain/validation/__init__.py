"""The validate step: a Great Expectations suite over the prepared splits, run before training.

Only the step's entry point is re-exported here. Great Expectations itself is imported lazily by
`crosstrain.validation.tabular`, because importing it takes seconds and `crosstrain --help` must not.
"""

from __future__ import annotations

from crosstrain.validation.validate import validate

__all__ = ["validate"]
