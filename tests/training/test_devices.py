"""GPU set-up code paths, run without a GPU: TensorFlow's device list and config calls are patched."""

import pytest
import tensorflow as tf

from dpviz.training import devices


class Gpu:
    def __init__(self, i):
        self.name, self.device_type = f"/physical_device:GPU:{i}", "GPU"


@pytest.fixture
def fake_tf(monkeypatch):
    calls = {"visible": [], "growth": [], "logical": []}
    gpus = [Gpu(0), Gpu(1), Gpu(2)]
    monkeypatch.setattr(devices, "_placement", None)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda d, kind: calls["visible"].append((d, kind)))
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda d, on: calls["growth"].append((d, on)))
    monkeypatch.setattr(
        tf.config, "set_logical_device_configuration", lambda d, conf: calls["logical"].append((d, conf))
    )
    monkeypatch.delenv(devices.MEMORY_ENV, raising=False)
    monkeypatch.delenv(devices.XLA_ENV, raising=False)
    return gpus, calls


@pytest.mark.parametrize("slot, index", [(0, 0), (1, 1), (2, 2), (3, 0), (7, 1)])
def test_one_gpu_per_worker_round_robin_with_memory_growth(fake_tf, slot, index):
    gpus, calls = fake_tf
    placement = devices.setup(slot)
    assert placement.gpu == gpus[index].name and placement.gpus == 3 and placement.memory == "growth"
    assert calls["visible"] == [([gpus[index]], "GPU")] and calls["growth"] == [(gpus[index], True)]
    assert devices.setup(slot + 1) is placement  # set once per process


def test_the_slot_comes_from_the_launcher(fake_tf, monkeypatch):
    gpus, calls = fake_tf
    monkeypatch.setenv(devices.SLOT_ENV, "2")
    assert devices.setup().gpu == gpus[2].name


def test_a_fixed_memory_share_instead_of_growth(fake_tf, monkeypatch):
    gpus, calls = fake_tf
    monkeypatch.setenv(devices.MEMORY_ENV, "3000")
    assert devices.setup(0).memory == "3000 MB"
    assert not calls["growth"] and calls["logical"][0][0] is gpus[0]
    assert calls["logical"][0][1][0].memory_limit == 3000


def test_devices_already_initialised_are_kept(fake_tf, monkeypatch):
    def refuse(*args):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "set_visible_devices", refuse)
    assert devices.setup(1).memory == "as initialised"


def test_xla_on_a_gpu_only_unless_overridden(monkeypatch):
    monkeypatch.delenv(devices.XLA_ENV, raising=False)
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [])
    assert devices.use_xla() is False
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [object()])
    assert devices.use_xla() is True
    monkeypatch.setenv(devices.XLA_ENV, "0")
    assert devices.use_xla() is False and devices.on_gpu() is True  # the override is XLA's alone


def test_describe_names_the_gpu_and_its_peak_memory(monkeypatch):
    class Logical:
        name = "/device:GPU:0"

    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [Logical()])
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [Gpu(0)])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: {"device_name": "Tesla T4"})
    monkeypatch.setattr(tf.config.experimental, "get_memory_info", lambda name: {"current": 0, "peak": 512 * 2**20})
    assert devices.describe() == "/device:GPU:0 (Tesla T4), peak 512 MB"


def test_without_a_gpu_nothing_is_forced(monkeypatch):
    monkeypatch.setattr(devices, "_placement", None)
    touched = []
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda *a: touched.append(a))
    assert devices.setup(0).gpu is None and not touched and devices.describe() == "CPU"


@pytest.mark.parametrize(
    "model, cores, threads",
    [("mlp", 2, (1, 1)), ("logreg", 8, (4, 1)), ("mlp", 1, (1, 1)), ("cnn", 2, None), ("cnn", 8, None)],
)
def test_a_dense_pair_runs_one_op_at_a_time_on_half_the_cores_and_a_conv_pair_keeps_the_default(model, cores, threads):
    expected = devices.PairThreads(*threads) if threads else None
    assert devices.pair_threads(model, cores) == expected


@pytest.fixture
def threading_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", lambda n: calls.append(("intra", n)))
    monkeypatch.setattr(tf.config.threading, "set_inter_op_parallelism_threads", lambda n: calls.append(("inter", n)))
    for name in devices.USER_THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    return calls


def test_the_pair_thread_rule_is_applied_on_the_cpu(threading_calls):
    rule = devices.pair_threads("mlp")
    assert devices.configure_pair_threads("mlp") == rule
    assert threading_calls == [("intra", rule.intra_op), ("inter", 1)]
    assert devices.configure_pair_threads("cnn") is None and len(threading_calls) == 2


@pytest.mark.parametrize("variable", devices.USER_THREAD_ENV)
def test_the_pair_thread_rule_yields_to_the_users_threads(threading_calls, monkeypatch, variable):
    monkeypatch.setenv(variable, "2")
    assert devices.configure_pair_threads("mlp") is None
    assert threading_calls == []


def test_the_pair_thread_rule_yields_to_a_gpu_and_a_started_tensorflow(threading_calls, monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [Gpu(0)] if kind == "GPU" else [])
    assert devices.configure_pair_threads("mlp") is None
    assert threading_calls == []

    def started(threads):
        raise RuntimeError("Intra op parallelism cannot be modified after initialization.")

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", started)
    assert devices.configure_pair_threads("mlp") is None


@pytest.mark.parametrize(
    "threads, ops, described",
    [
        (0, 0, "CPU"),
        (1, 0, "CPU, 1 thread per op"),
        (4, 0, "CPU, 4 threads per op"),
        (1, 1, "CPU, 1 thread per op, 1 op at a time"),
        (0, 2, "CPU, 2 ops at a time"),
    ],
)
def test_a_cpu_run_records_its_threads(monkeypatch, threads, ops, described):
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: [])
    monkeypatch.setattr(tf.config.threading, "get_intra_op_parallelism_threads", lambda: threads)
    monkeypatch.setattr(tf.config.threading, "get_inter_op_parallelism_threads", lambda: ops)
    assert devices.describe() == described
