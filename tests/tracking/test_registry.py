"""The register step against a real `mlflow server`, with real (tiny) torch models logged to real runs.

Each test registers under its own task name: the server lives for the whole session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from crosstrain.config import MlflowConfig, MLPSpec, Settings
from crosstrain.errors import CrosstrainError, MissingInputError, TrackingError
from crosstrain.io import atomic_write_json, read_json
from crosstrain.names import (
    CHAMPION_ALIAS,
    FINAL_VAL_ACCURACY,
    TAG_FRAMEWORK,
    TAG_TASK,
    TEST_ACCURACY,
    TEST_LOG_LOSS,
    TEST_MACRO_F1,
    registered_model_name,
)
from crosstrain.tracking import Tracker
from crosstrain.tracking.registry import register

FRAMEWORKS = ("tensorflow", "pytorch")
META = {"features": ["a", "b", "c", "d"], "classes": ["x", "y", "z"], "feature_mean": [0.0] * 4,
        "feature_std": [1.0] * 4}


def log_mlp(framework: str):
    """A 4-feature, 3-class MLP logged to the active run as training logs it (the crosstrain pyfunc)."""
    from crosstrain import backends
    from crosstrain.tracking import pyfunc

    backend = backends.get(framework)
    inputs = pyfunc.Inputs(framework, "table", tuple(META["classes"]), features=tuple(META["features"]))
    example = pd.DataFrame(np.zeros((2, 4), np.float32), columns=META["features"])
    return pyfunc.log_model(backend, backend.build_model(MLPSpec(hidden=[4]), META), inputs, example)


@pytest.fixture(scope="module")
def logged_models(mlflow_server: str) -> dict[str, dict[str, str]]:
    """One finished run per framework, each holding its own 4-feature, 3-class MLP as crosstrain logs it."""
    logged = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        cfg = Settings().mlflow
        tracker = Tracker(cfg)
        for framework in FRAMEWORKS:
            with tracker.start_run(run_name=f"registry-{framework}", tags={}, params={}) as run_id:
                info = log_mlp(framework)
            logged[framework] = {"run_id": run_id, "model_uri": info.model_uri}
    return logged


def write_inputs(
    root: Path,
    task: str,
    logged: dict[str, dict[str, str]],
    scores: dict[str, float | list[float]],
    log_losses: dict[str, float] | None = None,
) -> dict[str, Path]:
    """What evaluate writes for `task`: metrics/<task>/<fw>.json with one run per seed (a list of scores)."""
    metric_files = {}
    for framework, score in scores.items():
        per_seed = score if isinstance(score, list) else [score]
        runs = [
            {"seed": seed, **logged[framework], TEST_ACCURACY: value, TEST_MACRO_F1: value - 0.01,
             TEST_LOG_LOSS: (log_losses or {}).get(framework, 0.2), FINAL_VAL_ACCURACY: 0.9 + seed / 100}
            for seed, value in enumerate(per_seed)
        ]
        metric_files[framework] = root / "metrics" / task / f"{framework}.json"
        atomic_write_json(metric_files[framework], {"task": task, "framework": framework, "runs": runs})
    return metric_files


def versions_of(client: MlflowClient, name: str) -> list:
    return client.search_model_versions(f"name='{name}'")


def test_register_adds_tagged_versions_aliases_and_champion(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: both frameworks trained and evaluated over three seeds, pytorch ahead on every seed
    settings = Settings()
    scores = {"tensorflow": [0.92, 0.925, 0.92], "pytorch": [0.97, 0.972, 0.975]}
    metric_files = write_inputs(tmp_path, "alpha", logged_models, scores)
    out_file = tmp_path / "registry" / "alpha.json"

    # when
    result = register("alpha", settings, metric_files, out_file)

    # then: one registered model with a description, and one tagged version per framework
    client = MlflowClient(tracking_uri=tracking_server)
    name = registered_model_name("alpha")
    assert "TensorFlow and PyTorch" in client.get_registered_model(name).description
    versions = {v.tags[TAG_FRAMEWORK]: v for v in versions_of(client, name)}
    assert set(versions) == set(FRAMEWORKS)
    for framework, version in versions.items():
        assert version.run_id == logged_models[framework]["run_id"]
        assert version.tags[TAG_TASK] == "alpha"
        assert float(version.tags[TEST_ACCURACY]) == pytest.approx(np.mean(scores[framework]))
        # and: each framework's alias points at its own version
        assert client.get_model_version_by_alias(name, framework).version == version.version
    # and: pytorch, the better one, is champion
    assert client.get_model_version_by_alias(name, CHAMPION_ALIAS).version == versions["pytorch"].version
    # and: the summary names the same versions, and was written as returned
    assert result["model"] == name and result["metric"] == TEST_ACCURACY and result["min_score"] == 0.9
    for fw, values in scores.items():
        entry = result["versions"][fw]
        assert entry["version"] == versions[fw].version and entry["run_id"] == logged_models[fw]["run_id"]
        assert entry["seed"] == 2 and entry["seeds"] == 3  # the best seed on validation data
        assert entry["score"] == pytest.approx(np.mean(values))
        assert entry["low"] < entry["score"] < entry["high"]  # a t-interval over 3 seeds
    assert result["gate"]["decision"] == "promoted" and result["candidate"] == "pytorch"
    # and: the reason says why pytorch and not tensorflow: a paired test over the seeds, not a tie-breaker
    assert "pytorch better on test_accuracy" in result["gate"]["reason"]
    assert "seeds-only paired t-test over 3 seed(s)" in result["gate"]["reason"]
    assert "tie-breaker" not in result["gate"]["reason"]
    assert result["champion"] == {
        "framework": "pytorch",
        "version": versions["pytorch"].version,
        "score": pytest.approx(np.mean(scores["pytorch"])),
    }
    assert read_json(out_file) == result


def test_champion_alias_loads_the_champion_model(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: a registered champion
    metric_files = write_inputs(
        tmp_path, "beta", logged_models, {"tensorflow": 0.95, "pytorch": 0.91}
    )
    register("beta", Settings(), metric_files, tmp_path / "registry.json")

    # when: a consumer loads it the documented way
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model("models:/crosstrain-beta@champion")

    # then: it is the tensorflow run's model, and it names a class and its 3 probabilities per row
    assert model.metadata.run_id == logged_models["tensorflow"]["run_id"]
    predicted = model.predict(pd.DataFrame(np.zeros((2, 4), np.float32), columns=META["features"]))
    assert list(predicted.columns) == ["class", "probability", "p(x)", "p(y)", "p(z)"] and len(predicted) == 2


@pytest.mark.parametrize(
    ("order", "champion"),
    [(["tensorflow", "pytorch"], "tensorflow"), (["pytorch", "tensorflow"], "pytorch")],
    ids=["tensorflow-first", "pytorch-first"],
)
def test_a_full_tie_goes_to_the_framework_listed_first(
    tracking_server: str, logged_models: dict, tmp_path: Path, order: list[str], champion: str
) -> None:
    # given: equal scores, with the frameworks listed in `order` in params
    task = f"tie-{order[0]}"
    metric_files = write_inputs(
        tmp_path, task, logged_models, {"tensorflow": 0.95, "pytorch": 0.95}
    )

    # when
    result = register(task, Settings(frameworks=order), metric_files, tmp_path / "registry.json")

    # then: one seed each is inconclusive; the tie-breaker (log-loss) ties too; the order decides, and says so
    assert result["champion"]["framework"] == champion
    assert "inconclusive" in result["gate"]["reason"] and "tied too" in result["gate"]["reason"]
    assert "an exact tie in the means" in result["gate"]["reason"]
    champion_version = MlflowClient().get_model_version_by_alias(registered_model_name(task), CHAMPION_ALIAS)
    assert champion_version.tags[TAG_FRAMEWORK] == champion


def test_a_tied_score_goes_to_the_lower_log_loss_first(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: equal accuracy, but PyTorch's predictions are better calibrated, TensorFlow listed first
    metric_files = write_inputs(
        tmp_path, "calibrated", logged_models, {"tensorflow": 0.95, "pytorch": 0.95},
        log_losses={"tensorflow": 0.30, "pytorch": 0.10},
    )
    # when
    result = register("calibrated", Settings(), metric_files, tmp_path / "registry.json")
    # then: the tie is broken on log-loss, not on the order frameworks are listed in, and it says so
    assert result["champion"]["framework"] == "pytorch"
    assert "tie-breaker register.tie_breaker=test_log_loss picked pytorch" in result["gate"]["reason"]


def test_scores_below_min_score_crown_no_champion(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: both frameworks below the default min_score of 0.9
    metric_files = write_inputs(
        tmp_path, "gamma", logged_models, {"tensorflow": 0.6, "pytorch": 0.7}
    )

    # when
    result = register("gamma", Settings(), metric_files, tmp_path / "registry.json")

    # then: versions and framework aliases exist, but no champion alias, and the summary says why
    registered = MlflowClient().get_registered_model(registered_model_name("gamma"))
    assert set(registered.aliases) == {"tensorflow", "pytorch"}
    assert result["champion"] is None
    assert "below min_score" in result["decision"]


def test_a_weaker_round_leaves_the_earlier_champion(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: a first round with a champion, then a second round where nothing qualifies
    first = write_inputs(tmp_path / "one", "delta", logged_models, {"tensorflow": 0.93, "pytorch": 0.91})
    crowned = register("delta", Settings(), first, tmp_path / "one.json")["champion"]
    second = write_inputs(tmp_path / "two", "delta", logged_models, {"tensorflow": 0.5, "pytorch": 0.4})

    # when
    result = register("delta", Settings(), second, tmp_path / "two.json")

    # then: the framework aliases moved to the new versions, the champion alias did not move
    client = MlflowClient()
    name = registered_model_name("delta")
    assert (
        client.get_model_version_by_alias(name, "tensorflow").version
        == result["versions"]["tensorflow"]["version"]
    )
    assert result["versions"]["tensorflow"]["version"] != crowned["version"]
    assert client.get_model_version_by_alias(name, CHAMPION_ALIAS).version == crowned["version"]
    assert result["champion"]["version"] == crowned["version"] and result["gate"]["decision"] == "rejected"


def test_a_missing_metrics_file_registers_nothing(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: a registered model with two versions, then a new round whose pytorch metrics are missing
    register(
        "epsilon",
        Settings(),
        write_inputs(tmp_path / "one", "epsilon", logged_models, {"tensorflow": 0.95, "pytorch": 0.96}),
        tmp_path / "one.json",
    )
    metric_files = write_inputs(
        tmp_path / "two", "epsilon", logged_models, {"tensorflow": 0.97, "pytorch": 0.98}
    )
    metric_files["pytorch"].unlink()
    out_file = tmp_path / "two.json"

    # when / then: the error names the file and the step that makes it
    with pytest.raises(MissingInputError, match=r"pytorch\.json not found: run the evaluate step"):
        register("epsilon", Settings(), metric_files, out_file)

    # and: no version was added (not even tensorflow's, whose inputs were fine), and no summary written
    assert len(versions_of(MlflowClient(), registered_model_name("epsilon"))) == 2
    assert not out_file.exists()


def _drop_metric(metric_files: dict) -> None:
    path = metric_files["pytorch"]
    data = read_json(path)
    del data["runs"][0][TEST_ACCURACY]
    path.write_text(json.dumps(data))


def _wrong_task(metric_files: dict) -> None:
    path = metric_files["tensorflow"]
    path.write_text(json.dumps({**read_json(path), "task": "other"}))


def _swapped_metrics(metric_files: dict) -> None:
    metric_files["pytorch"].write_text(metric_files["tensorflow"].read_text())


def _no_runs(metric_files: dict) -> None:
    path = metric_files["pytorch"]
    path.write_text(json.dumps({**read_json(path), "runs": []}))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_drop_metric, r"pytorch\.json: runs\[0\]\.test_accuracy \(register\.metric\) is None"),
        (_wrong_task, r"tensorflow\.json is for task 'other', not 'zeta-"),
        (_swapped_metrics, r"pytorch\.json is for framework 'tensorflow', not 'pytorch'"),
        (_no_runs, r"pytorch\.json: 'runs' must be a non-empty list"),
    ],
    ids=["metric-absent", "task-mismatch", "metrics-of-another-framework", "no-runs"],
)
def test_bad_inputs_fail_before_the_registry_is_touched(
    tracking_server: str, logged_models: dict, tmp_path: Path, spoil, message: str
) -> None:
    # given: inputs for a new task, one of them spoiled
    task = f"zeta-{spoil.__name__.strip('_').replace('_', '-')}"
    metric_files = write_inputs(
        tmp_path, task, logged_models, {"tensorflow": 0.95, "pytorch": 0.96}
    )
    spoil(metric_files)

    # when / then
    with pytest.raises(CrosstrainError, match=message):
        register(task, Settings(), metric_files, tmp_path / "registry.json")

    # and: the task's registered model was never even created
    with pytest.raises(MlflowException, match="not found|does not exist|RESOURCE_DOES_NOT_EXIST"):
        MlflowClient(tracking_uri=tracking_server).get_registered_model(registered_model_name(task))


def test_register_works_on_the_embedded_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the params default, `sqlite:///mlflow.db`, in a fresh directory, and one model logged there
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(frameworks=["pytorch"])
    with Tracker(settings.mlflow).start_run(run_name="local", tags={}, params={}) as run_id:
        info = log_mlp("pytorch")
    logged = {"pytorch": {"run_id": run_id, "model_uri": info.model_uri}}
    metric_files = write_inputs(tmp_path, "local", logged, {"pytorch": 0.99})

    # when
    result = register("local", settings, metric_files, tmp_path / "registry.json")

    # then: the version lives in the local database and the champion alias resolves to its run
    client = MlflowClient(tracking_uri="sqlite:///mlflow.db")
    champion = client.get_model_version_by_alias(registered_model_name("local"), CHAMPION_ALIAS)
    # (the local store numbers versions as int, the REST client as str; the summary always says str)
    assert str(champion.version) == result["versions"]["pytorch"]["version"] == "1"
    assert champion.run_id == run_id


def test_an_unreachable_registry_is_a_tracking_error_naming_it(
    unreachable_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given: good inputs, but a tracking URI where nothing listens (and no retries, to stay fast)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", unreachable_url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    logged = {fw: {"run_id": f"run-{fw}", "model_uri": f"models:/m-{fw}"} for fw in FRAMEWORKS}
    metric_files = write_inputs(tmp_path, "eta", logged, {"tensorflow": 0.95, "pytorch": 0.96})
    out_file = tmp_path / "registry.json"

    # when / then: the error says which store failed, and no summary claims otherwise
    with pytest.raises(TrackingError, match=re.escape(unreachable_url)):
        register("eta", Settings(mlflow=MlflowConfig(retry_timeout_s=1)), metric_files, out_file)
    assert not out_file.exists()


def test_the_gate_keeps_the_champion_until_a_candidate_is_better_beyond_noise(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: a champion from three seeds, pytorch ahead
    settings = Settings(frameworks=["pytorch"])
    first = write_inputs(tmp_path / "1", "theta", logged_models, {"pytorch": [0.95, 0.96, 0.97]})
    crowned = register("theta", settings, first, tmp_path / "1.json")["champion"]
    client, name = MlflowClient(), registered_model_name("theta")

    # when: a round whose mean is a little higher, within the seeds' noise
    close = write_inputs(tmp_path / "2", "theta", logged_models, {"pytorch": [0.955, 0.965, 0.975]})
    kept = register("theta", settings, close, tmp_path / "2.json")
    # then: the champion stays, and the new version says why it was not promoted
    assert kept["gate"]["decision"] == "kept" and "not shown beyond noise" in kept["gate"]["reason"]
    assert client.get_model_version_by_alias(name, CHAMPION_ALIAS).version == crowned["version"]
    version = client.get_model_version(name, kept["versions"]["pytorch"]["version"])
    assert version.tags["crosstrain.gate.decision"] == "kept"
    assert "Welch" in version.tags["crosstrain.gate.reason"]

    # when: a round clearly better, beyond the noise
    better = write_inputs(tmp_path / "3", "theta", logged_models, {"pytorch": [0.99, 0.99, 0.995]})
    promoted = register("theta", settings, better, tmp_path / "3.json")
    # then: it takes the champion alias, with the reason recorded
    assert promoted["gate"]["decision"] == "promoted"
    champion = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    assert champion.version == promoted["versions"]["pytorch"]["version"]
    assert "one-sided Welch t-test" in champion.tags["crosstrain.gate.reason"]


def test_the_gate_needs_min_delta(tracking_server: str, logged_models: dict, tmp_path: Path) -> None:
    # given: a one-seed champion at 0.93 and min_delta 0.05
    settings = Settings.model_validate({"frameworks": ["tensorflow"], "register": {"min_delta": 0.05}})
    register("iota", settings, write_inputs(tmp_path / "1", "iota", logged_models, {"tensorflow": 0.93}),
             tmp_path / "1.json")
    # when: the next round is better by only 0.02
    inputs = write_inputs(tmp_path / "2", "iota", logged_models, {"tensorflow": 0.95})
    result = register("iota", settings, inputs, tmp_path / "2.json")
    # then: kept, and the reason names min_delta
    assert result["gate"]["decision"] == "kept" and "min_delta 0.05" in result["gate"]["reason"]


def test_an_unfair_comparison_registers_but_never_moves_champion(
    tracking_server: str, logged_models: dict, tmp_path: Path
) -> None:
    # given: pytorch clearly better, but its fairness record says Adam ran with another epsilon
    scores = {"tensorflow": [0.92, 0.925, 0.92], "pytorch": [0.97, 0.972, 0.975]}
    metric_files = write_inputs(tmp_path, "unfair", logged_models, scores)
    for framework, path in metric_files.items():
        data = read_json(path)
        for run in data["runs"]:
            epsilon = 1e-6 if framework == "pytorch" else 1e-7
            run["fairness"] = {"about": {"seed": run["seed"], "framework": framework},
                               "fields": {"optimizer.epsilon": epsilon, "threads.intra_op": 1}}
        atomic_write_json(path, data)

    # when
    result = register("unfair", Settings(), metric_files, tmp_path / "registry.json")

    # then: both versions are registered, champion is not set, and the reason names the field
    client = MlflowClient(tracking_uri=tracking_server)
    name = registered_model_name("unfair")
    assert {v.tags[TAG_FRAMEWORK] for v in versions_of(client, name)} == set(FRAMEWORKS)
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    assert result["gate"]["decision"] == "rejected" and result["champion"] is None
    assert ("unfair comparison: unfair: optimizer.epsilon differs (seed 0): tensorflow 1e-07, pytorch 1e-06"
            in result["gate"]["reason"])
