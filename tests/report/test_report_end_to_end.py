"""The report on what the real steps write: ingest, validate, train and evaluate in both frameworks, then
`crosstrain report` and `crosstrain compare --last`, all through the CLI in a fresh project."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow.tracking import MlflowClient

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.layout import Layout

FRAMEWORKS = ("tensorflow", "pytorch")


@pytest.mark.slow
def test_report_and_compare_after_real_training(tmp_path, monkeypatch, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    params = {
        "seeds": [0, 1],
        "tasks": {"iris": {}},
        "train": {"epochs": 3},
        "latency": {"calls": 20, "warmup": 2, "throughput_batch": 32, "throughput_repeats": 1},
        "report": {"bootstrap_samples": 1000},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    steps = [["ingest", "-t", "iris"], ["validate", "-t", "iris"]]
    steps += [[step, "-t", "iris", "-f", fw] for step in ("train", "evaluate") for fw in FRAMEWORKS]
    for argv in [*steps, ["report"]]:
        assert main(argv) == 0, (argv, capsys.readouterr())

    layout = Layout(tmp_path)
    page = layout.report("html").read_text()
    assert page.count("<img ") == 5 and all(fw in page for fw in FRAMEWORKS)
    report = json.loads(layout.report("json").read_text())
    client = MlflowClient(tracking_uri=uri)
    for fw in FRAMEWORKS:
        summary = report["results"]["iris"]["frameworks"][fw]
        assert summary["metrics"][names.TEST_ACCURACY]["n"] == 2
        for run_id in summary["run_ids"]:
            assert client.get_run(run_id).data.tags[names.TAG_PARENT] == report["parent_run_id"]
    assert "Execution modes not measured" in page  # measure was not run here

    capsys.readouterr()
    assert main(["compare", "--last"]) == 0
    out = capsys.readouterr().out
    assert report["parent_run_id"] in out and all(fw in out for fw in FRAMEWORKS)
