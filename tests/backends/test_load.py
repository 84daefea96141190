"""A saved model that cannot be read back is one line naming the file and what to do, in both frameworks.

The unit half truncates a real saved model (a Keras `.keras` zip, a PyTorch `state_dict`) and calls
the backend's `load`; the CLI half trains one real PyTorch seed for an epoch, cuts its `model.pt` in
half, and runs `crosstrain evaluate` as a user would: exit 1, one line on stderr, no traceback, no
metrics written.

    .venv/bin/python -m pytest tests/backends -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crosstrain import backends
from crosstrain.backends import ModelFileError
from crosstrain.cli.main import main
from crosstrain.config import MLPSpec
from crosstrain.models.spec import initial_weights

META = {"modality": "table", "classes": ["a", "b", "c"], "features": ["x1", "x2", "x3", "x4"],
        "feature_mean": [5.8, 3.0, 3.7, 1.2], "feature_std": [0.8, 0.4, 1.7, 0.7]}
SPEC = MLPSpec(hidden=[8])


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("framework", ["tensorflow", "pytorch"])
def test_a_truncated_model_file_is_one_line_naming_it(framework, tmp_path):
    backend = backends.get(framework)
    model = backend.build_model(SPEC, META)
    backend.set_weights(model, initial_weights(SPEC, META, seed=0))
    saved = backend.save(model, tmp_path)
    assert backend.get_weights(backend.load(tmp_path)).keys() == backend.get_weights(model).keys()
    _truncate(saved)
    with pytest.raises(ModelFileError) as caught:
        backend.load(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{saved}: not a readable {framework} model")
    assert "dvc checkout" in message and "dvc repro" in message


@pytest.mark.slow
def test_evaluate_of_a_truncated_model_says_so_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    iris = {"source": {"kind": "sklearn", "name": "iris"}}
    params = {"seeds": [0], "train": {"epochs": 1}, "tasks": {"iris": iris}}
    Path("params.yaml").write_text(yaml.safe_dump(params))
    for step in (["ingest"], ["validate"], ["train", "--framework", "pytorch"]):
        assert main([step[0], "--task", "iris", *step[1:]]) == 0
    model = Path("models/iris/pytorch/seed-0/model.pt")
    _truncate(model)
    capsys.readouterr()

    code = main(["evaluate", "--task", "iris", "--framework", "pytorch"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert str(model.absolute()) in err[0] or str(model) in err[0]
    assert "dvc checkout" in err[0]
    assert not Path("metrics/iris/pytorch.json").exists()


IMPORTS = """
import sys
from crosstrain import backends
from crosstrain.training.job import Job, train  # the neutral job imports no framework
backend = backends.get({framework!r})
model = backend.build_model(SPEC, META)
backend.make_train_step(model, TrainConfig(), np.zeros((1, 4), np.float32))
print(sorted(m for m in ("tensorflow", "keras", "torch") if m in sys.modules))
"""


@pytest.mark.parametrize(("framework", "loaded"), [("pytorch", ["torch"]),
                                                   ("tensorflow", ["keras", "tensorflow"])])
def test_a_run_imports_only_its_own_framework(framework, loaded):
    import subprocess
    import sys

    setup = (f"import numpy as np\nfrom crosstrain.config import MLPSpec, TrainConfig\nMETA = {META!r}\n"
             f"SPEC = MLPSpec(hidden=[8])\n")
    code = setup + IMPORTS.format(framework=framework)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == repr(loaded)
