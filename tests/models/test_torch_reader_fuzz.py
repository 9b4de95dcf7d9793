"""Fuzzing the checkpoint reader: corrupt files fail fast, small and cleanly.

Seeded mutations (bit flips, truncation, zeroed runs, inserted bytes, bytes
set to 0xff) of checkpoints in both formats, and of the pickle inside a zip
checkpoint re-zipped with valid checksums (so the mutation reaches the
unpickler instead of stopping at the zip's CRC). Every read must either
succeed or raise one of the loader's own errors, within a time bound, and
allocate at most a small multiple of the file's size (tracemalloc sees
numpy's buffers too).
"""

import io
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from keras_mixkd.models._torch_reader import CheckpointFormatError
from keras_mixkd.models._torch_reader import UnsafeCheckpointError
from keras_mixkd.models._torch_reader import read_checkpoint
from tests.models.torch_files import View
from tests.models.torch_files import write_legacy
from tests.models.torch_files import write_zip

MUTATIONS = 150  # per source file and kind of source
#: Peak bytes allocated while reading, per byte of file, plus a fixed slack
#: for the interpreter's own small objects.
MEMORY_PER_BYTE, MEMORY_SLACK = 8, 2 ** 20


def _state():
    rng = np.random.default_rng(0)
    flat = rng.normal(size=64).astype("float32")
    return {"epoch": 3, "model": {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)).astype("float32"),
        "conv.bias": rng.normal(size=4).astype("float32"),
        "fc.weight": View(flat, 4, (6, 5), (1, 6)),  # transposed view
        "fc.bias": View(flat, 0, (6,), (1,)),
        "bn.num_batches_tracked": np.zeros((), "float32")}}


def _mutate(data, rng):
    data = bytearray(data)
    kind = rng.integers(5)
    at = int(rng.integers(len(data)))
    if kind == 0:  # bit flips
        for pos in rng.integers(len(data), size=int(rng.integers(1, 9))):
            data[pos] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncation
        del data[at:]
    elif kind == 2:  # a zeroed run
        data[at:at + int(rng.integers(1, 65))] = bytes(
            len(data[at:at + int(rng.integers(1, 65))]))
    elif kind == 3:  # inserted bytes
        data[at:at] = rng.bytes(int(rng.integers(1, 17)))
    else:  # large counts
        data[at:at + 4] = b"\xff" * len(data[at:at + 4])
    return bytes(data)


def _rezip(zip_bytes, pickle_bytes):
    """The same zip checkpoint with another ``data.pkl`` (valid CRCs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as src, \
            zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, pickle_bytes if info.filename
                         .endswith("data.pkl") else src.read(info))
    return out.getvalue()


def _sources(tmp_path, reference_dir):
    zipped = write_zip(tmp_path / "small.pth", _state()).read_bytes()
    legacy = write_legacy(tmp_path / "legacy.pth", _state()).read_bytes()
    official = (reference_dir / "resnet20.pth").read_bytes()
    with zipfile.ZipFile(io.BytesIO(official)) as archive:
        official_pickle = archive.read("resnet20/data.pkl")
    return {
        "zip": lambda rng: _mutate(zipped, rng),
        "legacy": lambda rng: _mutate(legacy, rng),
        "zip pickle": lambda rng: _rezip(zipped, _mutate(
            zipfile.ZipFile(io.BytesIO(zipped)).read("archive/data.pkl"),
            rng)),
        "official zip pickle": lambda rng: _rezip(
            official, _mutate(official_pickle, rng)),
    }


@pytest.mark.slow
def test_mutated_checkpoints_fail_cleanly_fast_and_small(tmp_path,
                                                         reference_dir):
    rng = np.random.default_rng(2023)
    path = tmp_path / "mutant.pth"
    outcomes = {"loaded": 0, "refused": 0}
    worst_time, worst_memory = 0.0, 0.0
    # CPU time of this process, not wall time: a loaded machine (another job
    # on the cores) must not fail the test; a hang or a blow-up still does.
    start = time.process_time()
    tracemalloc.start()
    try:
        for name, make in _sources(tmp_path, reference_dir).items():
            for index in range(MUTATIONS):
                data = make(rng)
                path.write_bytes(data)
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                tick = time.process_time()
                try:
                    read_checkpoint(path)
                    outcomes["loaded"] += 1
                except (CheckpointFormatError, UnsafeCheckpointError):
                    outcomes["refused"] += 1
                except Exception as e:  # not the loader's own error
                    pytest.fail(f"{name} mutant {index}: {type(e).__name__}:"
                                f" {e}")
                elapsed = time.process_time() - tick
                peak = tracemalloc.get_traced_memory()[1] - before
                worst_time = max(worst_time, elapsed)
                assert elapsed < 1.0, (name, index, elapsed)
                assert peak <= MEMORY_PER_BYTE * len(data) + MEMORY_SLACK, (
                    name, index, peak, len(data))
                worst_memory = max(worst_memory, peak / len(data))
    finally:
        tracemalloc.stop()
    total = time.process_time() - start
    assert total < 20.0, total
    # The mutations reach both outcomes: not every file is rejected early.
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 100, outcomes
    print(f"{outcomes}; worst read {worst_time * 1e3:.1f} ms; worst peak "
          f"{worst_memory:.1f} bytes per file byte; total {total:.1f} s")


@pytest.mark.parametrize("writer", [write_zip, write_legacy])
def test_stride_zero_view_of_a_huge_size_is_refused_at_once(tmp_path, writer):
    # The mutated-checkpoint case of the issue: a size that describes far
    # more elements than the storage holds, made possible by a stride of 0.
    path = writer(tmp_path / "huge.pth",
                  {"x": View(np.arange(4.0), 0, (2 ** 31, 2 ** 10), (0, 1))})
    tracemalloc.start()
    tick = time.process_time()
    try:
        with pytest.raises(CheckpointFormatError, match="describes"):
            read_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - tick < 0.5
    assert peak < 2 ** 20
