"""The exceptions crosstrain raises for problems a user can fix.

Anything deriving from `CrosstrainError` is an *expected* failure: bad params, a missing file,
data that fails validation. The CLI prints its message on one line and exits non-zero without a
traceback (`--debug` shows one). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CrosstrainError(Exception):
    """A failure the user can act on; `str(err)` is the whole message."""

    exit_code = 1


class ConfigError(CrosstrainError):
    """params.yaml (or an override) is malformed or invalid."""

    exit_code = 2


class SourceError(CrosstrainError):
    """A data source is missing, unreachable or not in the expected shape."""


class DataValidationError(CrosstrainError):
    """The prepared data failed its Great Expectations suite."""

    def __init__(self, message: str, failures: list[dict] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class MissingInputError(CrosstrainError):
    """A step's input (prepared data, a trained model) does not exist yet."""


class CorruptFileError(CrosstrainError, ValueError):
    """A file crosstrain wrote earlier cannot be read back (truncated, corrupt, or another format)."""


class TrackingError(CrosstrainError):
    """The MLflow tracking server or registry could not be used."""


class DiskFullError(CrosstrainError):
    """An output did not fit on its disk (checked up front when its size is known, else ENOSPC)."""


class UnfairComparison(CrosstrainError):
    """The frameworks' fairness records differ in a field that is not the thing compared.

    One line per difference: `unfair comparison: <task>: <field> differs: tensorflow <v>, pytorch <v>`.
    """

    exit_code = 3

    def __init__(self, differences: list[str]) -> None:
        super().__init__("\n".join(differences))
        self.differences = differences
