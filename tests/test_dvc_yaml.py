"""dvc.yaml and the library agree on paths and tasks (names defined once, checked here)."""

from __future__ import annotations

import yaml

from crosstrain.config import load_settings
from crosstrain.layout import Layout


def test_stage_paths_match_the_layout(repo_root):
    # Given dvc.yaml and the library's Layout
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    layout = Layout()
    task, fw = "${item.task}", "${item.framework}"
    # Then each stage writes where the library writes
    assert stages["ingest"]["outs"][0] == str(layout.prepared(task))
    assert list(stages["ingest"]["outs"][1]) == [f"data/raw/{task}"]  # what ingest read (issue #7)
    assert stages["validate"]["outs"] == [str(layout.validation(task))]
    assert stages["train"]["outs"][0] == str(layout.model(task, fw))
    assert stages["train"]["outs"][1] == {str(layout.checkpoints(task, fw)): {"persist": True}}  # issue #8
    assert list(stages["evaluate"]["metrics"][0]) == [str(layout.metrics(task, fw))]
    assert list(stages["evaluate"]["plots"][0]) == [str(layout.plots(task, fw))]
    assert list(stages["register"]["outs"][0]) == [str(layout.registry(task))]
    assert list(stages["measure"]["outs"][0]) == [str(layout.modes(task, fw))]
    assert list(stages["export"]["outs"][0]) == [str(layout.onnx(task, fw))]
    report_outs = [out if isinstance(out, str) else next(iter(out)) for out in stages["report"]["outs"]]
    assert report_outs == [*(str(layout.report(s)) for s in ("html", "md", "json")),
                           str(layout.curves(task, fw).parent.parent)]


def test_matrix_covers_the_enabled_tasks_and_frameworks(repo_root):
    # Given the repository's params
    settings = load_settings(repo_root / "params.yaml")
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    enabled = sorted(name for name, task in settings.tasks.items() if task.enabled)
    # Then every enabled task is in every stage's matrix, and training covers every framework
    for name, stage in stages.items():
        if name == "report":  # one report over every task
            continue
        assert sorted(stage["matrix"]["task"]) == enabled
    assert sorted(stages["train"]["matrix"]["framework"]) == sorted(map(str, settings.frameworks))


def test_stages_depend_only_on_their_own_params(repo_root):
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    assert "train" not in stages["ingest"]["params"]
    assert not any(p.startswith("tasks.${item.task}.model") for p in stages["ingest"]["params"])


def test_reference_stage_writes_its_metrics_file_and_the_report_depends_on_it(repo_root):
    # Given the reference stage and the report stage
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    layout, task = Layout(), "${item.task}"
    reference = stages["reference"]
    # Then it writes where the library writes, as an uncached metrics file, from the prepared data
    assert reference["metrics"] == [{str(layout.reference(task)): {"cache": False}}]
    assert str(layout.prepared(task)) in reference["deps"]
    assert "src/crosstrain/evaluation/reference.py" in reference["deps"]
    # And the report re-runs when any task's reference changes (a dep at or above its path)
    path = str(layout.reference("iris"))
    assert any(path == dep or path.startswith(f"{dep}/") for dep in stages["report"]["deps"])
