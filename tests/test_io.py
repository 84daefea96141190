"""crosstrain.io: a JSON record that went bad is one line naming it, for the library and for the CLI.

    .venv/bin/python -m pytest tests/test_io.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crosstrain.cli.main import main
from crosstrain.errors import CorruptFileError
from crosstrain.io import atomic_write_json, read_json


@pytest.mark.parametrize("damage", [lambda text: text[: len(text) // 2], lambda text: "\x00\xff garbage"],
                         ids=["truncated", "garbage"])
def test_a_damaged_json_record_is_one_line_naming_it(damage, tmp_path):
    path = tmp_path / "train.json"
    atomic_write_json(path, {"run_id": "abc", "seed": 0, "final": {"val_accuracy": 0.9}})
    assert read_json(path)["seed"] == 0
    path.write_text(damage(path.read_text()))
    with pytest.raises(CorruptFileError) as caught:
        read_json(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid JSON") and "\n" not in message
    assert "dvc checkout" in message


def test_a_binary_file_given_as_json_is_one_line(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(CorruptFileError, match=r"metrics.json: not a text file"):
        read_json(path)


def test_register_on_a_truncated_metrics_file_exits_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    Path("params.yaml").write_text(yaml.safe_dump({"tasks": {"iris": {"source": {"kind": "sklearn",
                                                                              "name": "iris"}}}}))
    for framework in ("tensorflow", "pytorch"):
        metrics = Path(f"metrics/iris/{framework}.json")
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps({"framework": framework, "runs": []})[:20])

    code = main(["register", "--task", "iris"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Traceback" not in err[0], err
    assert "metrics/iris/" in err[0] and "not valid JSON" in err[0]
    assert not Path("reports").exists() and not Path("mlartifacts").exists()
