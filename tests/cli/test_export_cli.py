"""``mixkd export`` and the data/model flags, end to end."""

import json

import keras
import numpy as np
import pytest

from keras_mixkd import data
from keras_mixkd import exporting
from keras_mixkd import models
from keras_mixkd.cli import main as cli
from tests.helpers import write_image_folder

QUIET = ["--verbose=0", "--epochs=1", "--batch_size=8"]


def mixkd(*args):
    return cli.run(["mixkd", *args])


def test_train_teacher_on_an_image_folder_at_another_size(tmp_path):
    folder = write_image_folder(tmp_path / "flowers", size=(20, 24))
    out = tmp_path / "run"
    assert mixkd("train-teacher", "--model=resnet8",
                 f"--dataset=folder:{folder}", "--image_size=16,16",
                 f"--output_dir={out}", *QUIET) == 0
    record = json.loads((out / "config.json").read_text())
    assert record["dataset"] == f"folder:{folder}"
    assert record["image_size"] == 16
    model = keras.saving.load_model(out / "checkpoints" / "best.keras")
    assert model.input_shape[1:] == (16, 16, 3)
    assert model.output_shape[-1] == 3
    # evaluate takes the architecture from the file, at the same size.
    assert mixkd("evaluate", f"--weights={out / 'checkpoints/best.keras'}",
                 f"--dataset=folder:{folder}", "--image_size=16",
                 "--verbose=0") == 0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A resnet8 on digits in a run folder whose config.json says mixstd."""
    run = tmp_path_factory.mktemp("run")
    keras.utils.set_random_seed(0)
    _, test_ds, info = data.load("digits", batch_size=128)
    model = models.create("resnet8", num_classes=10,
                          input_shape=info.image_shape)
    (run / "checkpoints").mkdir()
    model.save(run / "checkpoints" / "best.keras")
    (run / "config.json").write_text(json.dumps(
        {"command": "distill", "loss": "mixstd", "seed": 0,
         "dataset": "digits"}))
    raw = exporting.raw_images(test_ds, info, limit=10_000)
    labels = np.concatenate([y for _, y in test_ds])
    normalised = (raw / np.float32(255.0) - np.float32(info.mean)) / (
        np.float32(info.std))
    logits = model.predict(normalised.astype("float32"), verbose=0)
    return run / "checkpoints" / "best.keras", raw, labels, logits


@pytest.mark.parametrize("format,output", [("saved_model", "a/b/student"),
                                           ("litert", "c/student.tflite")])
def test_export_writes_the_file_and_reports_it(checkpoint, tmp_path, capfd,
                                                format, output):
    weights, raw, labels, logits = checkpoint
    assert mixkd("export", f"--weights={weights}", "--dataset=digits",
                 f"--format={format}", f"--output={tmp_path / output}") == 0
    path = tmp_path / output
    assert path.exists()  # missing parent folders created
    meta = json.loads(exporting.metadata_path(path, format).read_text())
    assert set(meta) == {"mean", "std", "image_size", "class_names",
                         "outputs"}
    assert meta["image_size"] == [32, 32] and len(meta["class_names"]) == 10
    out = exporting.run_exported(path, raw)
    assert np.abs(out - logits).max() <= 1e-5 * np.abs(logits).max()
    printed, err = capfd.readouterr()
    assert "XNNPACK" not in err  # LiteRT's C++ INFO line is dropped
    results = json.loads(printed.strip().splitlines()[-1])
    accuracy = np.mean(logits.argmax(1) == labels)
    assert abs(results["accuracy"] - accuracy) <= 1 / len(labels)
    assert results["size_bytes"] == exporting.file_size(path)
    assert results["latency_ms"] > 0 and results["test_images"] == len(raw)
    assert results["metadata"] == str(exporting.metadata_path(path, format))
    for line in ("size: ", "latency: ", "ms per image", "test accuracy: "):
        assert line in printed


def test_probabilities_of_a_mixstd_run_are_softmax_of_logits_over_std(
        checkpoint, tmp_path, capsys):
    weights, raw, _, logits = checkpoint
    path = tmp_path / "p.tflite"
    assert mixkd("export", f"--weights={weights}", "--dataset=digits",
                 "--format=litert", "--outputs=probabilities",
                 f"--output={path}") == 0
    assert "loss mixstd" in capsys.readouterr().out
    scaled = logits / logits.std(axis=1, ddof=1, keepdims=True)
    expected = np.exp(scaled - scaled.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(exporting.run_exported(path, raw), expected,
                               atol=1e-5)
    # The run folder's loss wins; a --trained_loss that contradicts it is an
    # error, and so is the deprecated --loss, which stands for it.
    assert mixkd("export", f"--weights={weights}", "--dataset=digits",
                 "--format=litert", "--outputs=probabilities",
                 "--trained_loss=ce", f"--output={path}",
                 "--overwrite") == 1
    assert "Drop --trained_loss" in capsys.readouterr().err
    with pytest.warns(FutureWarning, match="use --trained_loss"):
        assert mixkd("export", f"--weights={weights}", "--dataset=digits",
                     "--format=litert", "--outputs=probabilities",
                     "--loss=ce", f"--output={path}", "--overwrite") == 1
    assert "Drop --trained_loss" in capsys.readouterr().err


def test_probabilities_without_a_run_folder_need_the_trained_loss(
        checkpoint, tmp_path, capsys):
    weights, raw, _, logits = checkpoint
    alone = tmp_path / "alone.keras"
    alone.write_bytes(weights.read_bytes())
    path = tmp_path / "p"
    # No silent default: outside a run folder the loss must be named.
    assert mixkd("export", f"--weights={alone}", "--dataset=digits",
                 "--format=saved_model", "--outputs=probabilities",
                 f"--output={path}") == 1
    assert "give --trained_loss: one of ce, mixstd" in capsys.readouterr().err
    assert not path.exists()
    assert mixkd("export", f"--weights={alone}", "--dataset=digits",
                 "--format=saved_model", "--outputs=probabilities",
                 "--trained_loss=ce", f"--output={path}") == 0
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(exporting.run_exported(path, raw), expected,
                               atol=1e-5)


@pytest.mark.parametrize("args,message", [
    (["--format=onnx"], "--format=onnx"),
    (["--format=litert", "--quantize=int4"], "--quantize=int4"),
    (["--format=litert", "--outputs=softmax"], "--outputs=softmax"),
    (["--format=saved_model", "--quantize=int8"], "applies to format='litert'"),
    (["--format=litert", "--weights=w.pth"], "export takes a .keras file"),
    (["--format=litert", "--mixing=pmu"], "does not take --mixing"),
    (["--format=litert", "--epochs=3"], "does not take --epochs"),
    (["--weights=x.keras"], "Missing --format"),
])
def test_bad_export_flags_are_usage_errors(checkpoint, tmp_path, capsys, args,
                                           message):
    weights = checkpoint[0]
    given = [f"--weights={weights}", "--dataset=digits",
             f"--output={tmp_path / 'out' / 'm.tflite'}", *args]
    assert mixkd("export", *given) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", [
    (["distill", "--teacher_weights=t.keras", "--student_weights=s.pth"],
     "--student_weights=s.pth holds weights only"),
    (["distill", "--teacher_weights=t.keras",
      "--student=keras.applications.Nope"],
     "--student=keras.applications.Nope is not an architecture"),
    (["train-teacher", "--model=resnet8", "--student_weights=s.keras"],
     "does not take --student_weights"),
    (["train-teacher", "--model=resnet8", "--image_size=16,0"],
     "--image_size=16,0"),
    (["evaluate", "--weights=w.weights.h5"], "holds weights only"),
])
def test_model_and_size_flags_fail_at_once(args, message, capsys):
    assert mixkd(*args, "--dataset=digits") == 1
    assert message in capsys.readouterr().err
