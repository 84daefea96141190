"""The experiment is marked as model training (MLflow 3's experiment kind), not as a GenAI one.

.venv/bin/python -m pytest tests/tracking/test_experiment_kind.py -q
"""

from __future__ import annotations

from mlflow import MlflowClient

from crosstrain.config import MlflowConfig
from crosstrain.names import EXPERIMENT_KIND_TRAINING, TAG_EXPERIMENT_KIND
from crosstrain.tracking import Tracker


def test_a_new_experiment_is_marked_as_model_training(mlflow_store: str) -> None:
    # given: an empty sqlite store
    # when: the tracker creates its experiment
    experiment_id = Tracker(MlflowConfig(experiment="kind-new")).experiment_id()

    # then: the store holds the UI's "Machine learning" kind on it
    tags = MlflowClient(tracking_uri=mlflow_store).get_experiment(experiment_id).tags
    assert tags[TAG_EXPERIMENT_KIND] == "custom_model_development" == EXPERIMENT_KIND_TRAINING


def test_an_existing_unmarked_experiment_is_marked_and_a_chosen_kind_kept(mlflow_store: str) -> None:
    # given: an experiment made before crosstrain marked them, and one a user set to GenAI
    client = MlflowClient(tracking_uri=mlflow_store)
    old = client.create_experiment("kind-old")
    chosen = client.create_experiment("kind-chosen", tags={TAG_EXPERIMENT_KIND: "genai_development"})

    # when: the tracker selects each
    assert Tracker(MlflowConfig(experiment="kind-old")).experiment_id() == old
    assert Tracker(MlflowConfig(experiment="kind-chosen")).experiment_id() == chosen

    # then: the unmarked one is marked now; the user's choice stands
    assert client.get_experiment(old).tags[TAG_EXPERIMENT_KIND] == EXPERIMENT_KIND_TRAINING
    assert client.get_experiment(chosen).tags[TAG_EXPERIMENT_KIND] == "genai_development"
