"""train: one task in one framework (crosstrain.training.job.train); the pipeline picks the image.

`train_distributed` has the same interface: with `cluster.distributed.workers > 1` the pipeline uses
it instead, in crosstrain-base; it runs a Kubeflow Trainer TrainJob and waits (crosstrain.kube.launch).
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components.images import BASE_IMAGE, PYTORCH_IMAGE


@dsl.component(base_image=PYTORCH_IMAGE, install_kfp_package=False)
def train(params: str, task: str, framework: str, prepared: Input[Dataset], model: Output[Model]):
    """Train `task`'s model in `framework` once per seed in `seeds`; one MLflow run and native model each.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: `tensorflow` or `pytorch`; runs in crosstrain-<framework> (set by the pipeline).
        prepared: The ingest step's output directory.
        model: Output directory: seed-<s>/ per seed (native model, train.json, history.json).
            Every epoch is checkpointed to the seed's MLflow run (artifacts `checkpoint/`): a retried
            task continues an unfinished seed there, in the same run (see README.md).
    """
    import tempfile

    from crosstrain.kfp_support import steps

    # Checkpoints: pod-local, mirrored to each seed's MLflow run; a retry (set_retry) resumes from there.
    with tempfile.TemporaryDirectory(prefix="crosstrain-checkpoints-") as checkpoints:
        infos = steps.train(params, task, framework, prepared.path, model.path, checkpoint_dir=checkpoints)
    model.metadata.update(
        {
            "framework": framework,
            "seeds": [i["seed"] for i in infos],
            "run_ids": [i["run_id"] for i in infos],
            "model_uris": [i["model_uri"] for i in infos],
        }
    )


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_distributed(params: str, task: str, framework: str, prepared: Input[Dataset], model: Output[Model]):
    """Train on `cluster.distributed.workers` nodes as a Kubeflow Trainer TrainJob; wait; fetch the model.

    Args:
        params: Validated params YAML.
        task: A key of `tasks` in params.
        framework: `tensorflow` or `pytorch`; the TrainJob's pods run crosstrain-<framework>.
        prepared: The ingest step's output directory (staged for the pods through MLflow).
        model: Output directory: seed-<s>/ per seed (native model, train.json, history.json), from worker 0.
    """
    from crosstrain.kfp_support import steps

    infos = steps.train_distributed(params, task, framework, prepared.path, model.path)
    model.metadata.update(
        {
            "framework": framework,
            "seeds": [i["seed"] for i in infos],
            "run_ids": [i["run_id"] for i in infos],
            "model_uris": [i["model_uri"] for i in infos],
        }
    )
