"""The Kubeflow pipeline `crosstrain-comparison`: the `dvc repro` steps, as KFP components.

    crosstrain pipeline compile                     # -> pipelines/compiled/crosstrain-comparison.yaml
    crosstrain pipeline run --local --set train.epochs=1
    crosstrain pipeline submit --host http://localhost:8080 --wait

for each task (dsl.ParallelFor):
    configure ─► ingest ─► validate ─┬► train per framework ─► evaluate ─► export ─┬► register ─► gather
                                     ├► measure per framework ──────────────────────┴──────────────┤
                                     ├► speed (both frameworks, alternately) ───────────────────────┤
                                     └► reference (scikit-learn, the classical bar) ────────────────┘
then, once every task's branch finished:
    report (dsl.Collected over every task's gather: one comparison report, the MLflow parent run)

The DAG is built from validated params: `frameworks` decide the branches per task (each framework
trains in its own image, with its own pod settings), and `cluster` the placement of each step.
The run-time parameters are the params text, the tasks to run, seed, epochs, the MLflow server and,
to train on a versioned dataset, `dvc_repo` (a git URL), `dvc_rev` and `data_digests` (task -> the
DVC md5 or crosstrain digest its data must have): ingest then reads `data/prepared/<task>` at that
revision through dvc.api instead of loading the source, and fails on a digest mismatch;
the training seeds are params' `seeds` (`--set seeds=[0]` on `crosstrain pipeline run|submit`).
With `cluster.distributed.workers > 1` each train step is a small crosstrain-base pod that runs a
Kubeflow Trainer TrainJob on that many nodes and waits for it (crosstrain.kube; k8s/trainer/).
"""

# No `from __future__ import annotations`: kfp reads the pipeline parameters' annotations as types.
from pathlib import Path
from typing import Any

import components as c
from components.train.component import train_distributed
from kfp import compiler, dsl, kubernetes

from crosstrain.config import Framework, Settings
from crosstrain.config.cluster import ClusterConfig, Resources
from crosstrain.kfp_support.steps import dump
from crosstrain.report.collect import enabled_tasks

NAME = "crosstrain-comparison"
COMPILED = Path(__file__).parent / "compiled" / f"{NAME}.yaml"
SHM_VOLUME = "dshm"
# Training retries (`cluster.retries` of them): 30 s before the first, doubling, at most 10 min apart,
# time for a preempted node to be replaced. A retried train task resumes each unfinished seed from
# the checkpoint mirrored in its MLflow run (components/train/README.md).
RETRY_BACKOFF = "30s"
RETRY_BACKOFF_FACTOR = 2.0
RETRY_BACKOFF_MAX = "600s"


def _size(task: dsl.PipelineTask, resources: Resources) -> dsl.PipelineTask:
    return (
        task.set_cpu_request(resources.cpu_request)
        .set_cpu_limit(resources.cpu_limit)
        .set_memory_request(resources.memory_request)
        .set_memory_limit(resources.memory_limit)
    )


def _cpu_step(task: dsl.PipelineTask, cluster: ClusterConfig) -> dsl.PipelineTask:
    """A CPU-only step in crosstrain-base: sized, never given an accelerator."""
    return _size(task.set_container_image(cluster.images.image("base")), cluster.resources.cpu_steps)


def _with_secrets(task: dsl.PipelineTask, cluster: ClusterConfig) -> dsl.PipelineTask:
    """MLflow and object-store credentials from Kubernetes Secrets, and where the object store is."""
    secrets = cluster.secrets
    if secrets.mlflow:
        kubernetes.use_secret_as_env(
            task,
            secrets.mlflow,
            {"username": "MLFLOW_TRACKING_USERNAME", "password": "MLFLOW_TRACKING_PASSWORD"},
            optional=secrets.optional,
        )
    if secrets.object_store:
        kubernetes.use_secret_as_env(
            task,
            secrets.object_store,
            {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"},
            optional=secrets.optional,
        )
    if cluster.s3_endpoint_url:
        task.set_env_variable("MLFLOW_S3_ENDPOINT_URL", cluster.s3_endpoint_url)
    return task


def _train_step(task: dsl.PipelineTask, framework: Framework, cluster: ClusterConfig) -> dsl.PipelineTask:
    """A training step: its framework's image, GPU node pool, sizes, retries; PyTorch gets /dev/shm."""
    task.set_container_image(cluster.images.image(framework.value))
    _size(task, cluster.resources.train)
    gpu = cluster.gpu
    if gpu.count:
        task.set_accelerator_type(gpu.accelerator).set_accelerator_limit(gpu.count)
        for key, value in gpu.node_selector.items():
            kubernetes.add_node_selector(task, key, value)
        for tol in gpu.tolerations:
            kubernetes.add_toleration(
                task, key=tol.key, operator=tol.operator, value=tol.value, effect=tol.effect
            )
    if framework is Framework.PYTORCH:
        kubernetes.empty_dir_mount(
            task, SHM_VOLUME, "/dev/shm", medium="Memory", size_limit=cluster.resources.shm_size
        )
    if cluster.retries:
        _retry(task, cluster)
    return _with_secrets(task, cluster)


def _retry(task: dsl.PipelineTask, cluster: ClusterConfig) -> dsl.PipelineTask:
    return task.set_retry(cluster.retries, backoff_duration=RETRY_BACKOFF,
                          backoff_factor=RETRY_BACKOFF_FACTOR, backoff_max_duration=RETRY_BACKOFF_MAX)


def _launcher_step(task: dsl.PipelineTask, cluster: ClusterConfig) -> dsl.PipelineTask:
    """A distributed training step: a CPU pod that launches and watches the TrainJob (its pods get GPUs)."""
    _cpu_step(task, cluster)
    if cluster.retries:
        _retry(task, cluster)
    return _with_secrets(task, cluster)


def build(settings: Settings):
    """The pipeline function for `settings`: its DAG, placement and parameter defaults come from them."""
    cluster, frameworks = settings.cluster, list(settings.frameworks)
    distributed = cluster.distributed.workers > 1
    train_component = train_distributed if distributed else c.train

    @dsl.pipeline(name=NAME, description="Train the same model in TensorFlow and PyTorch and compare them.")
    def crosstrain_comparison(
        params: str = dump(settings),
        tasks: list = enabled_tasks(settings),  # noqa: B008 (evaluated once per build, on purpose)
        seed: int = settings.seed,
        epochs: int = settings.train.epochs,
        mlflow_tracking_uri: str = cluster.mlflow_tracking_uri,
        mlflow_experiment: str = settings.mlflow.experiment,
        dvc_repo: str = "",
        dvc_rev: str = "",
        data_digests: dict = {},  # noqa: B006 (kfp reads the default; it is never mutated)
    ):
        with dsl.ParallelFor(tasks, name="tasks") as task:
            # configure runs per task, inside the loop: kfp.local (2.17) hands a loop's tasks the
            # loop item in place of any outer task's output parameter.
            config = _cpu_step(
                c.configure(
                    params=params,
                    seed=seed,
                    epochs=epochs,
                    mlflow_tracking_uri=mlflow_tracking_uri,
                    mlflow_experiment=mlflow_experiment,
                ),
                cluster,
            )
            # With dvc_repo, ingest reads data/prepared/<task> at dvc_rev through dvc.api and checks its
            # digests (crosstrain.data.versioned); its DVC remote may need the object-store credentials.
            ingest = c.ingest(
                params=config.output, task=task, dvc_repo=dvc_repo, dvc_rev=dvc_rev, data_digests=data_digests
            )
            ingest = _with_secrets(_cpu_step(ingest, cluster), cluster)
            validate = _cpu_step(c.validate(prepared=ingest.outputs["prepared"]), cluster)
            # The speed and memory verdicts' timings: both frameworks in one CPU pod, alternately.
            speed = c.speed(params=config.output, task=task, prepared=ingest.outputs["prepared"])
            _cpu_step(speed.after(validate).set_caching_options(False), cluster)
            # The classical reference (scikit-learn) on the same split: one CPU pod, its own MLflow run.
            reference = c.reference(params=config.output, task=task, prepared=ingest.outputs["prepared"])
            _with_secrets(_cpu_step(reference.after(validate).set_caching_options(False), cluster), cluster)
            metrics: dict[str, Any] = {}
            gathered: dict[str, Any] = {}
            exports = []
            for framework in frameworks:
                fw = framework.value
                train = train_component(
                    params=config.output, task=task, framework=fw, prepared=ingest.outputs["prepared"]
                )
                # Training waits for validation: a failed suite stops this task's branch here.
                train.after(validate).set_display_name(f"train-{fw}").set_caching_options(False)
                if distributed:
                    _launcher_step(train, cluster)
                else:
                    _train_step(train, framework, cluster)
                # Execution modes are timed from the initial weights, beside training (on CPU, like evaluate).
                measure = c.measure(
                    params=config.output, task=task, framework=fw, prepared=ingest.outputs["prepared"]
                )
                measure.after(validate).set_display_name(f"measure-{fw}").set_caching_options(False)
                _with_secrets(_cpu_step(measure, cluster), cluster)
                evaluate = c.evaluate(
                    params=config.output,
                    task=task,
                    framework=fw,
                    prepared=ingest.outputs["prepared"],
                    model=train.outputs["model"],
                )
                evaluate.set_display_name(f"evaluate-{fw}").set_caching_options(False)
                _with_secrets(_cpu_step(evaluate, cluster), cluster)
                # Export after evaluate: an ONNX model that drifts from the native one stops registration.
                export = c.export(
                    params=config.output,
                    task=task,
                    framework=fw,
                    prepared=ingest.outputs["prepared"],
                    model=train.outputs["model"],
                )
                export.after(evaluate).set_display_name(f"export-{fw}").set_caching_options(False)
                _with_secrets(_cpu_step(export, cluster), cluster)
                exports.append(export)
                metrics[f"{fw}_metrics"] = evaluate.outputs["metrics"]
                gathered.update(
                    {
                        f"{fw}_metrics": evaluate.outputs["metrics"],
                        f"{fw}_plots": evaluate.outputs["plots"],
                        f"{fw}_modes": measure.outputs["modes"],
                        f"{fw}_onnx": export.outputs["onnx"],
                    }
                )
            register = c.register(params=config.output, task=task, **metrics).set_caching_options(False)
            for export in exports:
                register.after(export)
            _with_secrets(_cpu_step(register, cluster), cluster)
            results = c.gather(
                task=task, registry=register.outputs["registry"], speed=speed.outputs["timings"],
                reference=reference.outputs["metrics"], **gathered
            )
            _cpu_step(results.set_caching_options(False), cluster)
        # One report over every task once all their branches are done; crosstrain-base has both frameworks.
        # Its own configure: the loop's run per task, and a loop's outputs reach outside only as lists.
        report_config = _cpu_step(
            c.configure(
                params=params,
                seed=seed,
                epochs=epochs,
                mlflow_tracking_uri=mlflow_tracking_uri,
                mlflow_experiment=mlflow_experiment,
            ),
            cluster,
        ).set_display_name("configure-report")
        report = c.report(params=report_config.output, tasks=dsl.Collected(results.outputs["results"]))
        _with_secrets(_cpu_step(report.set_caching_options(False), cluster), cluster)

    return crosstrain_comparison


def arguments(
    settings: Settings,
    tasks: list[str] | None = None,
    mlflow_tracking_uri: str | None = None,
    dvc_repo: str | None = None,
    dvc_rev: str | None = None,
    data_digests: dict[str, str] | None = None,
) -> dict:
    """Run-time arguments for `settings` (and optionally a subset of tasks / another MLflow URI).

    `dvc_repo`, `dvc_rev` and `data_digests` are passed only when given (else the pipeline's defaults:
    ingest runs the source loader).
    """
    chosen = enabled_tasks(settings) if tasks is None else tasks
    for name in chosen:
        settings.task(name)  # ConfigError listing the known tasks
    return {
        "params": dump(settings),
        "tasks": chosen,
        "seed": settings.seed,
        "epochs": settings.train.epochs,
        "mlflow_tracking_uri": settings.cluster.mlflow_tracking_uri
        if mlflow_tracking_uri is None
        else mlflow_tracking_uri,
        "mlflow_experiment": settings.mlflow.experiment,
    } | {
        key: value
        for key, value in (("dvc_repo", dvc_repo), ("dvc_rev", dvc_rev), ("data_digests", data_digests))
        if value is not None
    }


def compile_to(settings: Settings, path: Path | str = COMPILED) -> Path:
    """Compile the pipeline for `settings` into `path` (YAML) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(build(settings), str(path))
    return path
