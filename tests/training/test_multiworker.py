"""MultiWorkerMirroredStrategy: two local workers distil as one.

Two `mixkd distill --strategy=multiworker` processes form a cluster on
127.0.0.1 (TF_CONFIG), run one epoch on digits, and end with bit-identical
students (BatchNormalization statistics included, which
`SyncReplicaStatistics` averages over workers); only the chief writes the run
folder. Each worker also saves its student's weights to its own file (an extra
callback) for the comparison.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd.training import SyncReplicaStatistics
from keras_mixkd.distiller import Distiller
from keras_mixkd.models import create
from tests.helpers import tiny_data
from tests.helpers import tiny_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKERS = 2

#: `mixkd` with one extra callback saving the student's weights at the end.
SAVING_MIXKD = """
import sys
import keras, numpy as np
from keras_mixkd.cli import main
from keras_mixkd.training import run_folder

class SaveStudent(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(sys.argv[1], *self.model.student.get_weights())

original = run_folder.RunFolder.callbacks
run_folder.RunFolder.callbacks = (
    lambda self, *a, **k: original(self, *a, **k) + [SaveStudent()])
sys.exit(main.run(["mixkd", *sys.argv[2:]]))
"""


def free_ports(count):
    """Ports free on 127.0.0.1 (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_worker(index, ports, args, weights, scratch):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TMPDIR": str(scratch),
           "TF_CONFIG": json.dumps({"cluster": cluster,
                                    "task": {"type": "worker",
                                             "index": index}})}
    scratch.mkdir()
    return subprocess.Popen(
        [sys.executable, "-c", SAVING_MIXKD, str(weights), *args], env=env,
        cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_all(processes, timeout):
    """Waits for every process; kills them all on a timeout or a failure."""
    deadline = time.time() + timeout
    try:
        for p in processes:
            p.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        pass
    failed = [p for p in processes if p.poll() != 0]
    for p in processes:
        if p.poll() is None:
            p.kill()
            p.wait()
    errors = [p.stderr.read().decode()[-3000:] for p in failed]
    for p in processes:
        p.stderr.close()
    if failed:
        pytest.fail("a worker failed or hung:\n" + "\n---\n".join(errors))


@pytest.mark.slow
def test_two_workers_finish_with_identical_students(tmp_path):
    teacher = tmp_path / "teacher.keras"
    create("resnet8", num_classes=10).save(teacher)
    out = tmp_path / "run"
    args = ["distill", "--strategy=multiworker", "--teacher=resnet8",
            f"--teacher_weights={teacher}", "--student=resnet8",
            "--dataset=digits", "--epochs=1", "--batch_size=32",
            "--verbose=2", f"--output_dir={out}"]
    ports = free_ports(WORKERS)
    weights = [tmp_path / f"student-{i}.npz" for i in range(WORKERS)]
    scratch = [tmp_path / f"tmp-{i}" for i in range(WORKERS)]
    wait_all([start_worker(i, ports, args, weights[i], scratch[i])
              for i in range(WORKERS)], timeout=300)

    chief, worker = (np.load(w) for w in weights)
    assert len(chief.files) == len(worker.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], worker[name])
    # Only the chief (worker 0) wrote the run folder; the other worker's
    # scratch folder is gone.
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"] == "multiworker"
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    assert (out / "checkpoints" / "last.keras").is_file()
    assert list(scratch[1].iterdir()) == []


def test_replica_statistics_are_averaged_under_mirrored_strategy():
    """Each replica's BatchNormalization statistics drift apart without
    `SyncReplicaStatistics`; with it every copy holds their mean."""
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "conftest configures two logical CPUs"
    # No collective ops: their instance keys clash with other strategies
    # created earlier in the same process.
    strategy = tf.distribute.MirroredStrategy(
        [c.name for c in cpus[:2]],
        cross_device_ops=tf.distribute.ReductionToOneDevice())
    x, y = tiny_data(32)

    def copies_after_fit(callbacks):
        with strategy.scope():
            student = tiny_model("student", batch_norm=True)
            distiller = Distiller(student=student,
                                  teacher=tiny_model("teacher"))
            distiller.compile(optimizer="sgd")
        distiller.fit(x, y, batch_size=16, verbose=0,
                      callbacks=[c(student) for c in callbacks])
        moving_mean = next(v for v in student.non_trainable_variables
                           if "moving_mean" in v.path)
        return [c.numpy() for c in moving_mean.value.values]

    first, second = copies_after_fit([])
    assert not np.array_equal(first, second)
    first, second = copies_after_fit([SyncReplicaStatistics])
    np.testing.assert_array_equal(first, second)
