"""Where a worker trains: one GPU per worker (round robin), memory that grows instead of being taken
whole, XLA for the private step on a GPU only, and a description of the device for the run record.

Call `setup` before TensorFlow runs its first op: visibility and memory growth bind only then.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import tensorflow as tf

SLOT_ENV = "DPVIZ_WORKER_SLOT"  # set by the launcher: the worker's index, for the round robin
MEMORY_ENV = "DPVIZ_GPU_MEMORY_MB"  # a fixed share of the GPU per worker instead of memory growth
USER_THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")  # the user's choice wins over the pair rule
XLA_ENV = "DPVIZ_XLA"  # "0" or "1" overrides the rule (XLA on a GPU, not on the CPU, where it was slower)


@dataclass(frozen=True)
class Placement:
    gpu: str | None  # the physical GPU this worker uses, or None (CPU)
    gpus: int  # GPUs TensorFlow saw
    memory: str  # "growth", "<N> MB" or "" (CPU)


_placement: Placement | None = None


def setup(slot: int | None = None) -> Placement:
    """Make one GPU visible to this process (slot modulo the GPUs), with memory growth or a fixed share.

    Args:
      slot: the worker's index (default: $DPVIZ_WORKER_SLOT, else 0).

    Returns:
      Where this process trains. Without a GPU nothing is changed and nothing forces the CPU.
    """
    global _placement
    if _placement is not None:
        return _placement
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _placement = Placement(None, 0, "")
        return _placement
    slot = int(os.environ.get(SLOT_ENV, "0")) if slot is None else slot
    gpu = gpus[slot % len(gpus)]
    share = os.environ.get(MEMORY_ENV, "").strip()
    try:
        tf.config.set_visible_devices([gpu], "GPU")
        if share:
            limit = int(share)
            tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
            memory = f"{limit} MB"
        else:
            tf.config.experimental.set_memory_growth(gpu, True)
            memory = "growth"
    except RuntimeError:  # TensorFlow already initialised its devices: keep what it chose
        memory = "as initialised"
    _placement = Placement(gpu.name, len(gpus), memory)
    return _placement


def on_gpu() -> bool:
    """Whether this process trains on a GPU."""
    return bool(tf.config.list_logical_devices("GPU"))


def use_xla() -> bool:
    """XLA for the private step: on a GPU (batches are padded to few shapes, so it compiles a few times)."""
    override = os.environ.get(XLA_ENV, "").strip()
    if override in ("0", "1"):
        return override == "1"
    return on_gpu()


DENSE_ONLY = ("mlp", "logreg")  # models whose steps are a few small matmuls


@dataclass(frozen=True)
class PairThreads:
    """TensorFlow's CPU threads for a process that trains a pair: threads per op, and ops at a time."""

    intra_op: int
    inter_op: int


def pair_threads(model: str, cores: int | None = None) -> PairThreads | None:
    """The CPU threads for one process that trains a pair of `model`, or None: TensorFlow's default.

    A dense-only model gets half the cores per op and one op at a time; the other half is left to the
    private run's noise, drawn on a thread of its own (`engine.Prefetcher`). Measured through `dpviz train`
    on 2 cores: one thread per op ran the MLP's baseline about 5 % faster than the default and its
    DP-SGD run about 18 % faster; one op at a time then took the MLP's DP-SGD / baseline ratio from a
    median of 0.80x to 0.90x (12 interleaved runs of each; the baseline within 3 %), because the step's
    ops, a chain of small matmuls, gained nothing from running two at a time, and the second op had
    taken the core the noise was drawn on. The CNN's baseline ran 12-18 % slower with one thread per
    op, so a convolutional model keeps the default.
    """
    if model not in DENSE_ONLY:
        return None
    return PairThreads(intra_op=max(1, (cores or os.cpu_count() or 1) // 2), inter_op=1)


def configure_pair_threads(model: str) -> PairThreads | None:
    """Apply `pair_threads` before TensorFlow starts; returns the threads set, or None.

    Leaves TensorFlow's choice on a GPU, when $TF_NUM_INTRAOP_THREADS or $TF_NUM_INTEROP_THREADS is
    set, or once TensorFlow has started.
    """
    threads = pair_threads(model)
    user_set = any(os.environ.get(name) for name in USER_THREAD_ENV)
    if threads is None or user_set or tf.config.list_physical_devices("GPU"):
        return None
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(threads.inter_op)
    except RuntimeError:  # TensorFlow already started: its thread pools are fixed
        return None
    return threads


def describe() -> str:
    """The device a run trained on, and the GPU memory it peaked at, for the run record."""
    logical = tf.config.list_logical_devices("GPU")
    if not logical:
        threads = tf.config.threading.get_intra_op_parallelism_threads()
        ops = tf.config.threading.get_inter_op_parallelism_threads()
        parts = ["CPU"]
        if threads:
            parts.append(f"{threads} thread{'s' if threads != 1 else ''} per op")
        if ops:
            parts.append(f"{ops} op{'s' if ops != 1 else ''} at a time")
        return ", ".join(parts)
    name = logical[0].name
    try:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        name = f"{name} ({details.get('device_name', 'GPU')})"
    except (IndexError, ValueError, RuntimeError):
        pass
    try:
        peak = tf.config.experimental.get_memory_info(logical[0].name.replace("/device:", ""))["peak"]
        return f"{name}, peak {peak / 2**20:,.0f} MB"
    except (ValueError, RuntimeError, KeyError):
        return name


def reset_peak() -> None:
    """Start a run's peak-memory count afresh (a warm worker trains several runs)."""
    for device in tf.config.list_logical_devices("GPU"):
        with contextlib.suppress(ValueError, RuntimeError):
            tf.config.experimental.reset_memory_stats(device.name.replace("/device:", ""))
