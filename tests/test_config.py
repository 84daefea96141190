"""params.yaml loading: defaults, `--set` overrides, and errors that name the field.

.venv/bin/python -m pytest tests/test_config.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from crosstrain.config import (
    Framework,
    MLPSpec,
    Settings,
    SklearnSource,
    TableSource,
    apply_override,
    load_settings,
)
from crosstrain.errors import ConfigError


@pytest.fixture
def params(tmp_path: Path) -> Path:
    """A minimal params file: one iris task, everything else defaulted."""
    path = tmp_path / "params.yaml"
    path.write_text("seed: 7\ntasks:\n  iris:\n    source: {kind: sklearn, name: iris}\n")
    return path


def _error(path: Path, *overrides: str) -> str:
    """The message of the ConfigError that loading `path` with `overrides` raises."""
    with pytest.raises(ConfigError) as err:
        load_settings(path, list(overrides))
    return str(err.value)


# --- loading ------------------------------------------------------------------------------------


def test_repo_params_yaml_loads(repo_root: Path) -> None:
    # given: the params.yaml checked into the repository
    # when
    cfg = load_settings(repo_root / "params.yaml")
    # then: its values, not the code defaults, are what we get
    assert cfg.seed == 42
    assert cfg.frameworks == [Framework.TENSORFLOW, Framework.PYTORCH]
    assert cfg.train.epochs == 60
    assert cfg.registry.metric == "test_accuracy"
    assert cfg.task("iris").source == SklearnSource(kind="sklearn", name="iris")
    assert cfg.task("iris").split.train == pytest.approx(0.7)


def _differences(ours: object, defaults: object, where: str) -> list[str]:
    """`where.key: ours != defaults` for every leaf where two dumped sections differ."""
    if isinstance(ours, dict) and isinstance(defaults, dict):
        return [line for key in sorted(ours.keys() | defaults.keys())
                for line in _differences(ours.get(key), defaults.get(key), f"{where}.{key}")]
    return [] if ours == defaults else [f"{where}: params.yaml {ours!r} != schema default {defaults!r}"]


def test_repo_params_yaml_spells_out_the_schema_defaults(repo_root: Path) -> None:
    # given: the repository's params.yaml, and the sections it sets outside the per-task ones
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    sections = sorted(set(raw) - {"tasks"})
    # when: each is loaded, and compared with what the schema gives a file that leaves it out
    cfg, defaults = load_settings(repo_root / "params.yaml"), Settings()
    names = {field.alias or name: name for name, field in Settings.model_fields.items()}
    differences = [
        line
        for section in sections
        for line in _differences(
            _dumped(getattr(cfg, names[section])), _dumped(getattr(defaults, names[section])), section
        )
    ]
    # then: the defaults live in the schema, and params.yaml shows the same values (`make run` = defaults)
    assert sections, "params.yaml sets no section outside `tasks`"
    assert not differences, "\n".join(differences)


def _dumped(value: object) -> object:
    """A section (or a top-level value) as plain data, for a field-by-field comparison."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def test_missing_sections_take_the_defaults(params: Path) -> None:
    # given: a file that sets only the seed and one task
    # when
    cfg = load_settings(params)
    # then
    assert cfg.seed == 7
    assert cfg.frameworks == list(Framework)
    assert cfg.train == Settings().train
    assert cfg.train.epochs == 60 and cfg.train.optimizer == "adam" and cfg.train.deterministic
    assert cfg.task("iris").model == MLPSpec(hidden=[16], activation="relu")
    assert cfg.task("iris").limit is None
    assert cfg.registry.min_score == pytest.approx(0.9)


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    # given
    path = tmp_path / "params.yaml"
    path.write_text("")
    # when
    cfg = load_settings(path)
    # then
    assert cfg == Settings()
    assert list(cfg.tasks) == ["iris"]


def test_settings_are_frozen(params: Path) -> None:
    # given
    cfg = load_settings(params)
    # when / then: a step cannot quietly change the shared config
    with pytest.raises(ValueError):
        cfg.train.epochs = 3  # type: ignore[misc]


# --- --set overrides -----------------------------------------------------------------------------


def test_set_overrides_a_scalar(params: Path) -> None:
    # when
    cfg = load_settings(params, ["train.epochs=3"])
    # then
    assert cfg.train.epochs == 3


def test_set_overrides_a_list(params: Path) -> None:
    # when
    cfg = load_settings(params, ["frameworks=[pytorch]"])
    # then
    assert cfg.frameworks == [Framework.PYTORCH]


def test_set_creates_a_missing_nested_section(params: Path) -> None:
    # given: params without a wine task
    # when: an override names keys below a task that does not exist yet
    cfg = load_settings(
        params, ["tasks.wine.limit=20", "tasks.wine.source.kind=sklearn", "tasks.wine.source.name=wine"]
    )
    # then: the sections are created and validated like any other
    assert cfg.task("wine").source == SklearnSource(name="wine")
    assert cfg.task("wine").limit == 20
    assert cfg.task("iris").source.name == "iris"


def test_set_values_are_parsed_as_yaml() -> None:
    # given
    data: dict = {}
    # when
    for override in (
        "a.int=3",
        "a.float=0.5",
        "a.bool=true",
        "a.null=null",
        "a.str=adam",
        "a.map={kind: softmax}",
        "a.empty=",
        "a.quoted='3'",
    ):
        apply_override(data, override)
    # then
    assert data == {
        "a": {
            "int": 3,
            "float": 0.5,
            "bool": True,
            "null": None,
            "str": "adam",
            "map": {"kind": "softmax"},
            "empty": "",
            "quoted": "3",
        }
    }


def test_set_replaces_a_whole_section(params: Path) -> None:
    # when: a mapping value replaces the model spec, discriminated by kind
    cfg = load_settings(params, ["tasks.iris.model={kind: softmax}"])
    # then
    assert cfg.task("iris").model.kind == "softmax"


def test_set_a_table_source(params: Path) -> None:
    # when
    cfg = load_settings(params, ["tasks.iris.source={kind: table, path: data/raw/x.csv, label_column: y}"])
    # then
    assert cfg.task("iris").source == TableSource(path="data/raw/x.csv", label_column="y")


# --- errors --------------------------------------------------------------------------------------


def test_misspelt_key_is_an_unknown_field(params: Path) -> None:
    # when
    message = _error(params, "train.epoch=3")
    # then: the file, the dotted path and what is wrong
    assert str(params) in message
    assert "train.epoch:" in message
    assert "unknown field" in message


def test_misspelt_key_in_the_file_is_an_unknown_field(tmp_path: Path) -> None:
    # given
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: 3\n  lerning_rate: 0.1\n")
    # when
    message = _error(path)
    # then
    assert "train.lerning_rate: unknown field" in message


def test_unknown_top_level_section(params: Path) -> None:
    # when: --set creates a section that Settings does not know
    message = _error(params, "trian.epochs=3")
    # then
    assert "trian: unknown field" in message


def test_wrong_type_names_field_and_value(params: Path) -> None:
    # when
    message = _error(params, "train.epochs=abc")
    # then
    assert "train.epochs:" in message
    assert "integer" in message
    assert "'abc'" in message


def test_out_of_range_value(params: Path) -> None:
    # when
    message = _error(params, "train.epochs=-1")
    # then
    assert "train.epochs:" in message
    assert "greater than 0" in message


def test_split_must_sum_to_one(params: Path) -> None:
    # when
    message = _error(params, "tasks.iris.split={train: 0.8, val: 0.15, test: 0.15}")
    # then
    assert "tasks.iris.split:" in message
    assert "must sum to 1, got 1.1" in message


def test_unknown_framework(params: Path) -> None:
    # when
    message = _error(params, "frameworks=[jax]")
    # then: the list item is named, and the valid choices are listed
    assert "frameworks.0:" in message
    assert "'tensorflow'" in message and "'pytorch'" in message
    assert "'jax'" in message


def test_empty_framework_list(params: Path) -> None:
    # when
    message = _error(params, "frameworks=[]")
    # then
    assert "frameworks:" in message


def test_unknown_source_kind(params: Path) -> None:
    # when
    message = _error(params, "tasks.iris.source={kind: s3, path: x}")
    # then
    assert "tasks.iris.source:" in message
    assert "'s3'" in message
    assert "'sklearn'" in message and "'table'" in message


def test_table_source_without_label_column_names_the_yaml_path(params: Path) -> None:
    # when
    message = _error(params, "tasks.iris.source={kind: table, path: x.csv}")
    # then: the path as written in YAML, without pydantic's union tag (`source.table.label_column`)
    assert "tasks.iris.source.label_column: Field required" in message
    assert "source.table" not in message


def test_model_error_names_the_yaml_path(params: Path) -> None:
    # when
    message = _error(params, "tasks.iris.model={kind: mlp, hidden: [16, 0]}")
    # then
    assert "tasks.iris.model.hidden.1:" in message
    assert "model.mlp" not in message


def test_bad_task_name_is_reported_at_tasks(params: Path) -> None:
    # when: a task name that cannot be a directory name
    message = _error(params, "tasks={My Task: {}}")
    # then
    assert "tasks:" in message
    assert "'My Task'" in message
    assert "(top level)" not in message


def test_every_problem_is_reported_at_once(params: Path) -> None:
    # when
    message = _error(params, "train.epochs=0", "train.optimizer=rmsprop")
    # then: one line per problem
    lines = message.splitlines()
    assert len(lines) == 2
    assert any("train.epochs:" in line for line in lines)
    assert any("train.optimizer:" in line and "'adam'" in line for line in lines)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    # given: the third line is indented wrongly
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: 3\n bad: [\n")
    # when
    message = _error(path)
    # then
    assert str(path) in message
    assert "not valid YAML" in message
    assert "line 3" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    # given
    path = tmp_path / "params.yaml"
    path.write_text("- seed\n- 42\n")
    # when
    message = _error(path)
    # then
    assert str(path) in message
    assert "mapping" in message and "list" in message


def test_missing_params_file_names_the_path(tmp_path: Path) -> None:
    # given
    path = tmp_path / "nowhere" / "params.yaml"
    # when
    message = _error(path)
    # then
    assert str(path) in message
    assert "not found" in message


def test_params_path_that_is_a_directory(tmp_path: Path) -> None:
    # when
    message = _error(tmp_path)
    # then
    assert str(tmp_path) in message
    assert "cannot be read" in message


def test_set_without_equals_sign(params: Path) -> None:
    # when
    message = _error(params, "train.epochs")
    # then
    assert "--set 'train.epochs'" in message
    assert "KEY.PATH=VALUE" in message


def test_set_with_invalid_yaml_value(params: Path) -> None:
    # when
    message = _error(params, "frameworks=[pytorch")
    # then
    assert "--set 'frameworks=[pytorch'" in message
    assert "not valid YAML" in message


def test_set_below_a_scalar(params: Path) -> None:
    # when: the file sets seed to a value, so it cannot hold keys
    message = _error(params, "seed.value=3")
    # then
    assert "'seed' is not a section" in message


def test_unknown_task_lists_the_known_ones(params: Path) -> None:
    # given
    cfg = load_settings(params, ["tasks.wine={source: {kind: sklearn, name: wine}}"])
    # when
    with pytest.raises(ConfigError) as err:
        cfg.task("nope")
    # then
    assert "unknown task 'nope'" in str(err.value)
    assert "iris, wine" in str(err.value)


def test_config_errors_exit_with_usage_code() -> None:
    # then: the CLI exits 2 for bad params, like a usage error
    assert ConfigError.exit_code == 2


# --- schema --------------------------------------------------------------------------------------


def test_json_schema_has_every_section() -> None:
    # when
    schema = Settings.model_json_schema()
    # then: keys as written in params.yaml (`register`, not the attribute name `registry`)
    assert set(schema["properties"]) == {"seed", "seeds", "frameworks", "tasks", "train", "register",
                                         "mlflow", "latency", "measure", "speed", "onnx", "report", "cluster"}
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert {"TaskConfig", "TrainConfig", "Split", "TableSource", "SklearnSource"} <= set(defs)
    assert "Max training examples" in defs["TaskConfig"]["properties"]["limit"]["description"]


def test_seeds_and_modes_are_checked(params: Path) -> None:
    # a repeated seed or an unknown mode fails at load, naming the field
    with pytest.raises(ConfigError, match=r"seeds.*must not repeat"):
        load_settings(params, ["seeds=[1, 1]"])
    with pytest.raises(ConfigError, match=r"measure\.modes.*unknown mode 'fast-fp8'"):
        load_settings(params, ["measure.modes=[eager-fp32, fast-fp8]"])
    settings = load_settings(params, ["train.execution=compiled", "train.precision=mixed"])
    assert settings.train.mode == "compiled-mixed"
