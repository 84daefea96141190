"""Reading params.yaml: `--set` overrides, validation, and errors that name the field as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crosstrain.config.settings import Settings
from crosstrain.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")
def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one `key.path=value` override in place, parsing the value as YAML (like `dvc exp run -S`)."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. train.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {override!r}: value is not valid YAML ({err.problem})") from None
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _dotted(loc: tuple[int | str, ...], data: Any) -> str:
    """The dotted path of an error as written in the YAML, without pydantic's union tags.

    pydantic puts the discriminator's value into `loc` (`source.table.label_column`); a reader
    looks for `source.label_column`, so a part that is the `kind` of the mapping above it is dropped.
    """
    parts, node = [], data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        parts.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return ".".join(parts)


def _describe(err: ValidationError, source: str, data: Any = None) -> str:
    lines = []
    for item in err.errors():
        where = _dotted(item["loc"], data) or "(top level)"
        got = ""
        if item["type"] not in ("missing", "extra_forbidden"):
            shown = repr(item["input"])
            got = f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field; check the spelling against `crosstrain schema`"
        lines.append(f"{source}: {where}: {message}{got}")
    return "\n".join(lines)


def load_settings(path: Path | str = DEFAULT_PARAMS, overrides: list[str] | tuple[str, ...] = ()) -> Settings:
    """Read, override and validate a params file; every problem becomes a ConfigError naming the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"params file {str(path)!r} not found (pass --params FILE)") from None
    except OSError as err:
        raise ConfigError(f"params file {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}"
        )
    for override in overrides:
        apply_override(data, override)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, str(path), data)) from None
