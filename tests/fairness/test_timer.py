"""What the epoch timer counts, on synthetic step durations: warm-up apart, evaluation outside.

`fit` is driven with a train step and a predict function that only advance a fake clock (the one
`crosstrain.training.loop` reads), so every duration is exact and no busy machine can blur it: a
60 ms first step (a trace or compile), 4 ms steady steps, and a 30 ms evaluation call. The step is
asynchronous, as on a GPU: a call only queues its work, and the time passes when the loop calls the
step's `synchronize` hook - so a timer that stops its clock without synchronising measures nothing.

    .venv/bin/python -m pytest tests/fairness/test_timer.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from crosstrain import names
from crosstrain.config import TrainConfig
from crosstrain.data.dataset import Split
from crosstrain.fairness.record import indices_digest
from crosstrain.training.loop import History, batch_order, fit

FIRST, STEADY, EVAL = 0.060, 0.004, 0.030
ROWS, BATCH = 64, 16  # 4 steps per epoch


class FakeClock:
    """Stands in for the `time` module in crosstrain.training.loop: only `sleep` moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


CLOCK = FakeClock()


class SleepingStep:
    """A TrainStep on an asynchronous device whose first step takes FIRST seconds and every later one
    STEADY: a call queues the work and returns at once, `synchronize` waits for what is queued."""

    def __init__(self) -> None:
        self.calls, self.lr, self.fed, self.pending, self.syncs = 0, None, [], 0.0, 0

    def __call__(self, x: np.ndarray, y: np.ndarray, weight: float = 1.0) -> float:
        self.pending += FIRST if self.calls == 0 else STEADY
        self.calls += 1
        self.fed.append(y.copy())
        return 1.0  # a host float: reading it waits for nothing, only `synchronize` does

    def synchronize(self) -> None:
        CLOCK.sleep(self.pending)
        self.pending, self.syncs = 0.0, self.syncs + 1

    def expect_batch_sizes(self, sizes) -> None:
        self.expected = set(sizes)

    def set_learning_rate(self, lr: float) -> None:
        self.lr = lr

    def learning_rate(self) -> float:
        return self.lr

    def all_reduce(self, values: np.ndarray) -> np.ndarray:
        return values


def sleeping_predict(x: np.ndarray) -> np.ndarray:
    CLOCK.sleep(EVAL)
    return np.zeros((len(x), 2), dtype=np.float32)


@pytest.fixture(scope="module")
def run() -> tuple[History, SleepingStep]:
    data = Split(np.zeros((ROWS, 3), np.float32), np.arange(ROWS, dtype=np.int64) % 2)
    cfg = TrainConfig(epochs=3, batch_size=BATCH, warmup_steps=2, learning_rate=0.1, schedule="cosine")
    step = SleepingStep()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("crosstrain.training.loop.time", CLOCK)
        return fit(step, sleeping_predict, data, data, cfg=cfg, seed=3), step


def test_epoch_time_counts_the_steps_and_not_the_evaluation(run):
    history, _ = run
    steps = ROWS // BATCH
    times = [e[names.EPOCH_TIME] for e in history.epochs]
    # Each epoch evaluates twice (train and val, 30 ms each): none of it may be inside the clock.
    assert times[0] == pytest.approx(FIRST + (steps - 1) * STEADY, abs=1e-9)
    for later in times[1:]:
        assert later == pytest.approx(steps * STEADY, abs=1e-9)
        assert later < EVAL


def test_the_clock_stops_only_after_the_device_is_synchronised(run):
    history, step = run
    # Once per warm-up step (each timed alone) and once per epoch, before its clock stops.
    assert step.syncs == len(history.warmup) + len(history.epochs)
    assert step.pending == 0.0
    assert history.train_time == pytest.approx(FIRST + (step.calls - 1) * STEADY, abs=1e-9)


def test_mode_timings_synchronise_each_step():
    from crosstrain.perf.modes import time_steps

    step = SleepingStep()
    data = Split(np.zeros((ROWS, 3), np.float32), np.arange(ROWS, dtype=np.int64) % 2)
    batches = [np.arange(BATCH)] * 4
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("crosstrain.perf.modes.time", CLOCK)
        figures = time_steps(step, data, batches, warmup=1)
    assert step.syncs == 4
    assert figures[names.STEP_TIME] == pytest.approx(STEADY * 1000, abs=1e-6)
    assert figures[names.COMPILE_TIME] == pytest.approx(FIRST - STEADY, abs=1e-9)


def test_latency_synchronises_around_every_timed_call():
    from crosstrain.evaluation.latency import batch1_latency, batch_throughput

    pending = []

    def queue(x):  # an asynchronous predict: its 2 ms are spent when the device is synchronised
        pending.append(0.002)
        return np.zeros((len(x), 2), np.float32)

    def synchronize():
        CLOCK.sleep(sum(pending))
        pending.clear()

    x = np.zeros((4, 3), np.float32)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("crosstrain.evaluation.latency.time", CLOCK)
        durations = batch1_latency(queue, x, calls=3, warmup=1, synchronize=synchronize)
        per_second = batch_throughput(queue, x, batch=4, repeats=2, synchronize=synchronize)
    assert durations == pytest.approx([0.002] * 3, abs=1e-9)
    assert per_second == pytest.approx(4 / 0.002, rel=1e-6)


def test_warmup_steps_are_left_out_of_throughput_and_compile_time_is_apart(run):
    history, _ = run
    speed = history.speed()
    assert len(history.warmup) == 2
    assert history.warmup[0] == pytest.approx(FIRST, abs=1e-9)
    # Steady step time: the 10 steps after the 2 warm-up steps, each STEADY.
    assert speed[names.STEP_TIME] == pytest.approx(STEADY * 1000, abs=1e-6)
    assert speed[names.TRAIN_THROUGHPUT] == pytest.approx(BATCH / STEADY, rel=1e-6)
    # The first step beyond a steady one is the compile (trace) time.
    assert speed[names.COMPILE_TIME] == pytest.approx(FIRST - STEADY, abs=1e-9)


def test_a_budget_inside_the_warmup_counts_every_step():
    history = History(epochs=[{names.EPOCH_TIME: 0.1}], warmup=[0.06, 0.04], warmup_examples=32,
                      steps=2, examples=32)
    assert history.speed()[names.TRAIN_THROUGHPUT] == pytest.approx(320.0)


def test_the_loop_records_the_learning_rate_and_order_it_fed(run):
    history, step = run
    readback = history.readback
    # Cosine over 3 epochs: 0.1, 0.075, 0.025 - the step's own value at the first, middle and last step.
    assert readback["optimizer.learning_rate.first_step"] == pytest.approx(0.1)
    assert readback["optimizer.learning_rate.middle_step"] == pytest.approx(0.075)
    assert readback["optimizer.learning_rate.last_step"] == pytest.approx(0.025)
    first = batch_order(ROWS, BATCH, 3, 0)
    assert readback["batch_order.first_epoch"] == indices_digest(first)
    assert readback["batch_order.last_epoch"] == indices_digest(batch_order(ROWS, BATCH, 3, 2))
    # What the step received is what the digest describes (labels are index % 2 here).
    assert [list(y) for y in step.fed[:4]] == [list(idx % 2) for idx in first]


def test_the_loop_announces_the_batch_sizes_it_will_feed():
    # 70 rows in batches of 16: four full batches and a short one of 6.
    data = Split(np.zeros((70, 3), np.float32), np.arange(70, dtype=np.int64) % 2)
    step = SleepingStep()
    fit(step, lambda x: np.zeros((len(x), 2), np.float32), data, data,
        cfg=TrainConfig(epochs=1, batch_size=16, warmup_steps=1), seed=0)
    assert step.expected == {16, 6}
    assert sorted({len(y) for y in step.fed}) == [6, 16]


def test_tensorflow_traces_the_short_last_batch_inside_the_first_step():
    """A trace in the middle of the first epoch would be a slow steady step, in TensorFlow's time only."""
    import keras

    from crosstrain.training import tf as tf_training

    data = Split(np.random.default_rng(0).normal(size=(70, 3)).astype(np.float32),
                 np.arange(70, dtype=np.int64) % 2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    step = tf_training.make_train_step(model, TrainConfig(), data.x[:1])
    traces = step._step.experimental_get_tracing_count
    step.expect_batch_sizes({16, 6})
    step(data.x[:16], data.y[:16])
    assert traces() == 2  # both sizes, in the first (warm-up) step
    step(data.x[:6], data.y[:6])
    step(data.x[:16], data.y[:16])
    assert traces() == 2  # and never again
