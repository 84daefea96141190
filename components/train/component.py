"""train: one task in one framework (crosstrain.training.step.train); the pipeline picks the image.

`train_distributed` has the same interface: with `cluster.distributed.workers > 1` the pipeline uses
it instead, in crosstrain-base; it runs a Kubeflow Trainer TrainJob and waits (crosstrain.kube.launch).
"""

from kfp.dsl import Dataset, Input, Model, Output

from components.images import BASE_IMAGE, PYTORCH_IMAGE
from kfp import dsl


@dsl.component(base_image=PYTORCH_IMAGE, install_kfp_package=False)
def train(params: str, task: str, framework: str, prepared: Input[Dataset], model: Output[Model]):
    """Train `task`'s model in `framework`, log the run to MLflow, save the native model in `model`.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: `tensorflow` or `pytorch`; runs in crosstrain-<framework> (set by the pipeline).
        prepared: The ingest step's output directory.
        model: Output directory: the native model, train.json and history.json.
    """
    from crosstrain.kfp_support import steps

    info = steps.train(params, task, framework, prepared.path, model.path)
    model.metadata.update({"framework": framework, "run_id": info["run_id"], "model_uri": info["model_uri"]})


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_distributed(params: str, task: str, framework: str, prepared: Input[Dataset], model: Output[Model]):
    """Train on `cluster.distributed.workers` nodes as a Kubeflow Trainer TrainJob; wait; fetch the model.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: `tensorflow` or `pytorch`; the TrainJob's pods run crosstrain-<framework>.
        prepared: The ingest step's output directory (staged for the pods through MLflow).
        model: Output directory: the native model, train.json and history.json (from worker 0).
    """
    from crosstrain.kfp_support import steps

    info = steps.train_distributed(params, task, framework, prepared.path, model.path)
    model.metadata.update({"framework": framework, "run_id": info["run_id"], "model_uri": info["model_uri"]})
