"""`crosstrain compare` against a real `mlflow server`: parent and children created by the report itself."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from report_artefacts import FRAMEWORKS, SEEDS, make_project, report_settings

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.report.build import build_report

pytestmark = pytest.mark.slow  # starts an mlflow server (tens of seconds)

TASKS = ("iris",)  # one task is enough here; the report tests cover several


@pytest.fixture(scope="module")
def compared(mlflow_server, tmp_path_factory, iris_prepared):
    """Real training and mode runs on the server, nested under the parent run `build_report` made."""
    root = tmp_path_factory.mktemp("compare-project")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        layout = make_project(root, iris_prepared, TASKS)
        report = build_report(report_settings(TASKS), layout)
    return root, layout, report, mlflow_server


def _row(rows: list[dict], task: str, fw: str, kind: str, mode: str) -> dict:
    return next(
        r for r in rows if (r["task"], r["framework"], r["kind"], r["mode"]) == (task, fw, kind, mode)
    )


def test_last_prints_every_group_and_writes_markdown_and_csv(compared, tmp_path, monkeypatch, capsys):
    _, layout, report, url = compared
    monkeypatch.chdir(tmp_path)  # no params.yaml here: compare needs none
    md, table = tmp_path / "out" / "compare.md", tmp_path / "out" / "compare.csv"
    code = main(["compare", "--last", "--tracking-uri", url, "--markdown", str(md), "--csv", str(table)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert report["parent_run_id"] in out
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(TASKS) * (len(FRAMEWORKS) + 2)  # training per framework + 2 tensorflow modes
    for task in TASKS:
        for fw in FRAMEWORKS:
            row = _row(rows, task, fw, names.KIND_TRAINING, "eager-fp32")
            runs = json.loads(layout.metrics(task, fw).read_text())["runs"]
            assert int(row["runs"]) == len(SEEDS)
            expected = np.mean([r[names.TEST_ACCURACY] for r in runs])
            assert float(row["test_accuracy_mean"]) == pytest.approx(expected)
            assert float(row["test_accuracy_low"]) <= expected <= float(row["test_accuracy_high"])
            # The terminal shows the same mean, to three significant digits.
            assert f"{expected:.3g}" in out
        mode = _row(rows, task, "tensorflow", names.KIND_MODE, "compiled-fp32")
        assert int(mode["runs"]) == 1 and mode["test_accuracy_mean"] == ""
        assert float(mode[f"{names.TRAIN_THROUGHPUT}_mean"]) > 0
    text = md.read_text()
    assert text.startswith("# crosstrain comparison") and "| task | framework | kind | mode |" in text
    assert text.count("\n| ") == 1 + len(rows)


def test_run_by_id_and_clear_errors(compared, tmp_path, monkeypatch, capsys):
    _, _, report, url = compared
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--run", report["parent_run_id"], "--tracking-uri", url]) == 0
    assert "iris" in capsys.readouterr().out

    assert main(["compare", "--run", "0" * 32, "--tracking-uri", url]) == 1
    assert "unknown run id" in capsys.readouterr().err

    child = json.loads((compared[1].metrics("iris", "pytorch")).read_text())["runs"][0]["run_id"]
    assert main(["compare", "--run", child, "--tracking-uri", url]) == 1
    assert "is not a comparison run" in capsys.readouterr().err

    assert main(["compare", "--last", "--experiment", "nothing-here", "--tracking-uri", url]) == 1
    err = capsys.readouterr().err
    assert (
        "no comparison run in experiment 'nothing-here'" in err and url in err and "crosstrain report" in err
    )
