"""TensorFlow's train step: a `tf.function` over Keras 3 layers with `optimizer.apply`, as in the
keras-io custom-training-loop guide (not `model.fit`, which fails under MultiWorkerMirroredStrategy).

Distributed, `setup` creates a MultiWorkerMirroredStrategy from TF_CONFIG (worker 0 is the chief),
the model and optimiser are built in its scope, and each step runs through `strategy.run`.

    crosstrain train --task iris --framework tensorflow --workers 2
    # which runs 2 processes of `python -m crosstrain.cli.main train ...`, each with its TF_CONFIG

Mirrors `crosstrain.training.torch`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field

# First: crosstrain.models.tf sets KERAS_BACKEND (and TensorFlow's log level) before keras is imported.
from crosstrain.models.tf import precision_of

# isort: split
import keras
import numpy as np
import tensorflow as tf

from crosstrain import devices
from crosstrain.config import DistributedConfig, TrainConfig
from crosstrain.distributed.env import World
from crosstrain.errors import ConfigError
from crosstrain.training.keras_adam import Adam
from crosstrain.training.optim import ADAM_BETAS, ADAM_EPSILON
from crosstrain.training.precision import check_precision
from crosstrain.training.tf_device import place, synchronize

SUM = tf.distribute.ReduceOp.SUM


def configure(threads: int, seed: int, deterministic: bool = False, device: str = "auto") -> None:
    """Pin thread pools, seed Python, numpy and TensorFlow, set op determinism (`train.deterministic`),
    turn TF32 off and show TensorFlow only `device` (resolved by `crosstrain.devices`).

    Thread pools are fixed once TensorFlow has run an op; a second call in the same process (tests,
    or evaluate after train) keeps the first setting, as PyTorch's inter-op pool does.
    TensorFlow allows TF32 for matmuls and convolutions on Ampere and later GPUs by default, PyTorch
    for convolutions only: both are set off, so "fp32" means IEEE float32 in both.
    TensorFlow places every op on a GPU it sees: it is shown the run's GPU alone (as its GPU:0), or
    none for the CPU, with memory growth on so it does not reserve the whole card. Like the thread
    pools, this is fixed once the runtime has started.
    """
    place(devices.for_worker(device))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    tf.config.experimental.enable_tensor_float_32_execution(False)
    keras.utils.set_random_seed(seed)  # Python's random, numpy and TensorFlow
    set_deterministic(deterministic)


def set_deterministic(on: bool) -> None:
    """TensorFlow's op determinism on or off for this process (ops without a deterministic kernel raise)."""
    from tensorflow.python.framework import config as framework_config

    if on:
        tf.config.experimental.enable_op_determinism()
    elif framework_config.is_op_determinism_enabled():
        framework_config.disable_op_determinism()  # not exported; only bench and tests switch back


@dataclass(frozen=True)
class Distributed:
    """This worker's place in the run, its strategy, and the collective backend ("none" in a world of 1)."""

    world: World = field(default_factory=World)
    backend: str = "none"
    strategy: tf.distribute.Strategy = field(default_factory=tf.distribute.get_strategy)
    device: str = devices.CPU

    def sum_over_workers(self, values: np.ndarray) -> np.ndarray:
        """`values` (float64, one dimension) summed over all workers: one collective, in a graph."""
        if not self.world.distributed:
            return values
        return _reducer(self.strategy)(tf.constant(values, tf.float64)).numpy()


def setup(world: World, cfg: DistributedConfig, device: str = "auto") -> Distributed:
    """MultiWorkerMirroredStrategy from TF_CONFIG (TensorFlow reads it); the default strategy in a world of 1.

    `auto` is RING collectives on the CPU and NCCL on GPUs. Call `configure` first: creating the
    strategy starts TensorFlow's runtime, which fixes the thread pools and the devices it sees.
    """
    device = devices.for_worker(device, world.local_rank)
    if not world.distributed:
        return Distributed(world, device=device)
    backend = cfg.backend
    if backend == "auto":
        backend = "ring" if devices.index(device) is None else "nccl"
    implementations = {"ring": tf.distribute.experimental.CommunicationImplementation.RING,
                       "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL}
    if backend not in implementations:
        raise ConfigError(
            f"train.distributed.backend {cfg.backend!r} is PyTorch's; TensorFlow uses ring or nccl")
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=implementations[backend], timeout_seconds=cfg.timeout_s)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if strategy.num_replicas_in_sync != world.size:
        raise ConfigError(
            f"{strategy.num_replicas_in_sync} replicas for {world.size} workers: crosstrain runs one replica "
            "per worker process (give each worker one GPU, or none)")
    return Distributed(world, backend, strategy, device)


def cleanup(ctx: Distributed) -> None:
    """Wait for every worker (the chief saves last), so none leaves while another still needs it."""
    ctx.sum_over_workers(np.zeros(1))


def scope(ctx: Distributed) -> contextlib.AbstractContextManager:
    """Where the model and optimiser must be built: their variables become mirrored ones."""
    return ctx.strategy.scope()


_REDUCERS: dict[int, tf.types.experimental.GenericFunction] = {}


def _reducer(strategy: tf.distribute.Strategy):
    """A compiled all-reduce (sum) of a float64 vector over `strategy`'s workers, traced once."""
    if id(strategy) not in _REDUCERS:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float64)])
        def reduce(values: tf.Tensor) -> tf.Tensor:
            return strategy.reduce(SUM, strategy.run(tf.identity, args=(values,)), axis=None)

        _REDUCERS[id(strategy)] = reduce
    return _REDUCERS[id(strategy)]


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """The configured optimiser with every hyperparameter set explicitly (defaults differ by framework).

    `global_clipnorm` rescales all gradients together when their joint L2 norm exceeds it, as
    `torch.nn.utils.clip_grad_norm_` does.
    """
    clip = {"global_clipnorm": cfg.clip_norm} if cfg.clip_norm else {}
    if cfg.optimizer == "adam":
        return Adam(learning_rate=cfg.learning_rate, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1],
                    epsilon=ADAM_EPSILON, **clip)
    return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum, **clip)


class TrainStep:
    """A compiled `step(x, y, weight) -> loss`: one optimiser update on a mini-batch or a worker's shard.

    Build it inside `scope(ctx)`, where the model was built. `cfg.execution == "eager"` is TensorFlow's
    default `tf.function` graph (no XLA); "compiled" is `tf.function(jit_compile=True)`: the whole step,
    forward, backward and Adam, compiled by XLA. A "mixed" model (see `build_model`) computes in bf16
    with fp32 variables; its logits are float32, so the loss is too. bf16 needs no loss scaling.
    """

    def __init__(self, model: keras.Model, cfg: TrainConfig, example: np.ndarray,
                 ctx: Distributed | None = None) -> None:
        check_precision(precision_of(model), cfg)
        self.ctx = ctx or Distributed()
        # Where it runs: `configure` showed TensorFlow this device alone, so its ops go there.
        self.device = self.ctx.device if self.ctx.world.distributed else devices.for_worker(cfg.device)
        strategy = self.ctx.strategy
        if cfg.clip_norm and self.ctx.world.distributed:
            # Keras clips each replica's gradients before summing them, which is not clipping the
            # global batch's gradient; doing it right would cost a second all-reduce per step.
            raise ConfigError("train.clip_norm is not supported with TensorFlow on several workers yet")
        self.optimizer = make_optimizer(cfg)
        self.optimizer.build(model.trainable_variables)
        # Keras' sparse loss has no label smoothing; the dense one smooths exactly as PyTorch does:
        # targets (1 - s) * one_hot + s / classes.
        # Per-example losses, averaged here: Keras' own mean divides by the replica count, which is
        # right only when every replica's shard has the same size.
        self.loss_fn = loss_fn = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=cfg.label_smoothing, reduction="none")
        # One concrete function per batch size, not one signature with a free batch dimension: with
        # an unknown batch size Keras' LSTM step runs 1.2x slower (`make bench-overhead`). The sizes
        # `fit` will feed are traced together on the first call (see `expect_batch_sizes`), so the
        # short last batch's trace is compile time, not a slow step in the first epoch.
        self._features = (example.shape[1:], tf.as_dtype(example.dtype))
        self._pending: set[int] = set()

        bn_stats = [v for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
                    for v in (layer.moving_mean, layer.moving_variance)] if self.ctx.world.distributed else []

        def replica_step(x: tf.Tensor, y: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
            # Each worker's one replica gets that worker's own shard (plain tensors, one replica per
            # process). The optimiser sums gradients over replicas: the shard losses are weighted by
            # their share of the global batch, so the sum is the global batch's mean-loss gradient.
            with tf.GradientTape() as tape:
                logits = tf.cast(model(x, training=True), tf.float32)  # a no-op for fp32 models
                losses = loss_fn(tf.one_hot(y, tf.shape(logits)[-1]), logits)
                loss = tf.reduce_sum(losses) / tf.cast(tf.size(losses), losses.dtype) * weight
            grads = tape.gradient(loss, model.trainable_variables)
            # An embedding's gradient comes as IndexedSlices, one slice per token occurrence; Adam
            # would square the slices before adding repeated tokens' (padding id 0 repeats in every
            # batch), so v differs from PyTorch's dense nn.Embedding gradient. Dense sums them first.
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
            self.optimizer.apply(grads, model.trainable_variables)
            if bn_stats:
                # Each worker updates only its own copy of batch-norm's moving statistics (Keras
                # creates them unaggregated); average them, as crosstrain.training.torch does.
                means = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in bn_stats])
                for variable, mean in zip(bn_stats, means, strict=True):
                    variable.assign(mean)
            return loss

        # Only "compiled" names XLA: eager keeps TensorFlow's default, exactly what crosstrain always ran.
        jit = {"jit_compile": True} if cfg.execution == "compiled" else {}
        self.model, self.jit_compile = model, bool(jit)

        @tf.function(**jit)
        def step(x: tf.Tensor, y: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
            return strategy.run(replica_step, args=(x, y, weight))

        self._step = step
        self._last: tf.Tensor | None = None  # the last step's loss: reading it waits for that step

    def expect_batch_sizes(self, sizes: Collection[int]) -> None:
        """Trace the step for each of these shard sizes on the next call, inside that first step."""
        self._pending.update(sizes)

    def __call__(self, x: np.ndarray, y: np.ndarray, weight: float = 1.0) -> tf.Tensor:
        """One update on this worker's shard; the shard's mean loss times `weight` (a scalar tensor)."""
        if self._pending:
            shape, dtype = self._features
            for size in sorted(self._pending - {len(x)}):
                specs = (tf.TensorSpec([size, *shape], dtype), tf.TensorSpec([size], tf.int64))
                self._step.get_concrete_function(*specs, tf.TensorSpec([], tf.float32))
            self._pending.clear()
        # The host-to-device copy of x and y happens inside the step, as PyTorch's does inside its own.
        self._last = self._step(tf.constant(x), tf.constant(y), tf.constant(weight, tf.float32))
        return self._last

    def synchronize(self) -> None:
        """Wait for the steps queued so far: on a GPU TensorFlow's own device-wide wait, on the CPU
        the last step's loss read back (every earlier step's variables feed it: they have finished)."""
        if devices.index(self.device) is not None:
            synchronize(self.device)
        elif self._last is not None:
            self._last.numpy()

    def set_learning_rate(self, lr: float) -> None:
        """Assign the optimiser's learning-rate variable (read inside the compiled step)."""
        self.optimizer.learning_rate.assign(lr)

    def learning_rate(self) -> float:
        """The learning rate the optimiser holds now (a float32 variable)."""
        return float(self.optimizer.learning_rate.numpy())

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        """`values` summed over all workers."""
        return self.ctx.sum_over_workers(values)


def make_train_step(model: keras.Model, cfg: TrainConfig, example: np.ndarray,
                    ctx: Distributed | None = None) -> TrainStep:
    """The train step for `model`; `example` fixes the input's shape and dtype."""
    return TrainStep(model, cfg, example, ctx)


# --- checkpoint state (crosstrain.training.checkpoint) ---------------------------------------------


def _rng_variables(model: keras.Model) -> list[keras.Variable]:
    """Keras state outside the weights: the dropout layers' seed generators (Keras 3 dropout draws
    stateless random numbers from these counters, not from TensorFlow's global generator)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def get_state(step: TrainStep, model: keras.Model) -> dict[str, np.ndarray]:
    """The optimiser's variables (iteration count, Adam's moments, SGD's momentum) and the model's seed
    generators, as arrays keyed "optimizer/<index>" and "rng/<index>" in Keras' variable order."""
    state = {f"optimizer/{i:04d}": np.array(v.numpy()) for i, v in enumerate(step.optimizer.variables)}
    state.update({f"rng/{i:04d}": np.array(v.numpy()) for i, v in enumerate(_rng_variables(model))})
    return state


def set_state(step: TrainStep, model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Put back what `get_state` returned (the same model and optimiser, built the same way)."""
    for prefix, variables in (("optimizer", step.optimizer.variables), ("rng", _rng_variables(model))):
        saved = sorted(key for key in state if key.startswith(f"{prefix}/"))
        if len(saved) != len(variables):
            raise ValueError(f"checkpoint has {len(saved)} {prefix} variables, the model {len(variables)}")
        for key, variable in zip(saved, variables, strict=True):
            variable.assign(state[key])
