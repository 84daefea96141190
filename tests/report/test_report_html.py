"""`crosstrain report` on real artefacts: every task x framework, plots, intervals, verdicts, MLflow nesting,
a page Chromium opens without console errors, and nothing written when an input is missing."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess

import pytest
import yaml
from mlflow.tracking import MlflowClient
from report_artefacts import FRAMEWORKS, SEEDS, TASKS, make_project

from crosstrain import names
from crosstrain.cli.main import main
from crosstrain.config import load_settings
from crosstrain.errors import MissingInputError, TrackingError
from crosstrain.layout import Layout
from crosstrain.report.build import CURVE_COLUMNS, build_report

FIGURES_PER_TASK = 5


@pytest.fixture(scope="module")
def built(tmp_path_factory, iris_prepared):
    """One project with real artefacts, reported through the CLI (`crosstrain report`) once for the module."""
    root = tmp_path_factory.mktemp("report-project")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    params = {"seeds": list(SEEDS), "tasks": {t: {} for t in TASKS}, "report": {"bootstrap_samples": 2000}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        make_project(root, iris_prepared)
        patch.chdir(root)
        assert main(["report"]) == 0
    return root, uri


def test_html_covers_every_task_and_framework_with_plots_and_intervals(built):
    root, _ = built
    page = Layout(root).report("html").read_text()
    for task in TASKS:
        section = page.split(f'id="task-{task}"')[1].split("<section")[0]
        for fw in FRAMEWORKS:
            assert fw in section
        assert section.count("<img ") == FIGURES_PER_TASK
        assert re.search(r"\d\.\d+ \[\d\.\d+, \d\.\d+\]", section), "mean [low, high] intervals"
        assert "Verdict" in section
        outcomes = ("more accurate than", "accuracy equivalent", "accuracy inconclusive")
        assert any(o in section for o in outcomes)
        assert re.search(r"over 3 seeds × \d+ test examples", section)  # paired over seeds and examples
        # No speed.json in this project: the speed questions say so and name the command; nothing is
        # decided from the training runs' timings.
        assert f"training speed: not measured: run `crosstrain speed --task {task}`" in section
        assert "no significant difference" not in section.lower() and "the same" not in section.lower()
        assert "Fairness audit" in section
    assert page.count("data:image/png;base64,") == FIGURES_PER_TASK * len(TASKS)
    # Given modes only for tensorflow, ONNX only for pytorch and no registry: each gap is named.
    assert "Execution modes not measured for pytorch" in page
    assert "ONNX not measured for tensorflow" in page
    assert "Registry: not measured" in page
    assert "tf.function without XLA" in page and "matmul peak" in page
    # Self-contained: no script, no URL of any kind.
    assert "<script" not in page.lower()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # base64 may hold "//"
    assert not re.search(r"(https?:)?//|\burl\(|@import", text), "no external references"
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(ref.startswith("data:image/png;base64,") for ref in refs)


def test_markdown_json_and_curves_agree(built):
    root, _ = built
    layout = Layout(root)
    report = json.loads(layout.report("json").read_text())
    md = layout.report("md").read_text()
    assert set(report["results"]) == set(TASKS)
    for task in TASKS:
        assert f"## {task}" in md
        for fw in FRAMEWORKS:
            summary = report["results"][task]["frameworks"][fw]
            acc = summary["metrics"][names.TEST_ACCURACY]
            assert acc["n"] == len(SEEDS) and acc["low"] <= acc["mean"] <= acc["high"]
            assert names.MFU in summary["metrics"]
            with open(layout.curves(task, fw)) as handle:
                rows = list(csv.DictReader(handle))
            assert tuple(rows[0]) == CURVE_COLUMNS and len(rows) == 15
            last = summary["curves"][-1][names.VAL_ACCURACY]
            assert float(rows[-1][names.VAL_ACCURACY]) == pytest.approx(last, rel=1e-5)
        verdicts = {v["question"]: v for v in report["results"][task]["verdict"]}
        assert "difference" in verdicts["accuracy"]
        assert verdicts["memory"]["outcome"] == "not measured"
        assert f"- {verdicts['accuracy']['text']}" in md  # the headline sentence
    assert report["environment"]["matmul_peak"][0]["peak_gflops"] > 0
    assert "| test accuracy |" in md and "not measured" in md


def test_parent_run_nests_every_training_and_mode_run(built):
    root, uri = built
    report = json.loads(Layout(root).report("json").read_text())
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(report["parent_run_id"])
    assert parent.data.tags[names.TAG_KIND] == names.KIND_COMPARISON
    assert parent.info.run_name.startswith("comparison-")
    assert parent.data.tags["crosstrain.tasks"] == ",".join(TASKS)
    tf_acc = report["results"]["iris"]["frameworks"]["tensorflow"]["metrics"][names.TEST_ACCURACY]["mean"]
    assert parent.data.metrics["iris.tensorflow.test_accuracy_mean"] == pytest.approx(tf_acc)
    children = []
    for task in TASKS:
        for fw in FRAMEWORKS:
            metrics = json.loads(Layout(root).metrics(task, fw).read_text())
            children += [run["run_id"] for run in metrics["runs"]]
        modes = json.loads(Layout(root).modes(task, "tensorflow").read_text())
        children += [m["run_id"] for m in modes["modes"] if m["run_id"]]
    assert len(children) == len(TASKS) * (len(FRAMEWORKS) * len(SEEDS) + 2)
    for run_id in children:
        assert client.get_run(run_id).data.tags[names.TAG_PARENT] == parent.info.run_id
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/comparison.html", "report/comparison.md", "report/comparison.json"} <= artifacts


def test_opens_in_headless_chromium_without_console_errors(built):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    root, _ = built
    page = Layout(root).report("html").resolve()
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    problems = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not problems, problems
    for task in TASKS:
        assert f'id="task-{task}"' in done.stdout
    assert done.stdout.count("<img ") == FIGURES_PER_TASK * len(TASKS)


def test_missing_input_names_file_and_command_and_writes_nothing(built, tmp_path):
    root, _ = built
    project = tmp_path / "copy"
    shutil.copytree(root, project, ignore=shutil.ignore_patterns("reports", "mlflow.db*", "mlartifacts"))
    layout = Layout(project)
    missing = layout.plots("petals", "pytorch") / names.PREDICTIONS_CSV
    missing.unlink()
    settings = load_settings(project / "params.yaml")
    with pytest.raises(MissingInputError) as err:
        build_report(settings, layout)
    assert str(missing) in str(err.value)
    assert "crosstrain evaluate --task petals --framework pytorch" in str(err.value)
    assert not (project / "reports").exists()


def test_tracking_failure_leaves_the_previous_report_untouched(built, tmp_path, monkeypatch):
    # Given a finished report, when the store is unreachable, the old files stay and no temp dir is left.
    root, _ = built
    project = tmp_path / "copy"
    shutil.copytree(root, project, ignore=shutil.ignore_patterns("mlflow.db*", "mlartifacts"))
    layout = Layout(project)
    before = layout.report("html").read_bytes()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(TrackingError):
        build_report(load_settings(project / "params.yaml", ["mlflow.retry_timeout_s=1"]), layout)
    assert layout.report("html").read_bytes() == before
    assert not [p for p in (project / "reports").iterdir() if p.name.startswith(".")]
