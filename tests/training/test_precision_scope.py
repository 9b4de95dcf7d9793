"""The engine leaves the caller's global precision policy as it found it."""

import keras
import pytest

from keras_mixkd import training
from keras_mixkd.models import create


@pytest.fixture
def float32_policy():
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def _config(tmp_path, **kwargs):
    return training.RunConfig(dataset="digits", image_size=8, epochs=1,
                              train_size=64, batch_size=32,
                              mixed_precision="bfloat16", verbose="0",
                              **kwargs)


@pytest.mark.slow
def test_a_model_built_after_a_bfloat16_run_is_float32(tmp_path,
                                                        float32_policy):
    teacher, _ = training.train_teacher(_config(
        tmp_path, model="resnet8", output_dir=str(tmp_path / "teacher")))
    assert teacher.dtype_policy.compute_dtype == "bfloat16"  # the run's
    assert keras.mixed_precision.global_policy().name == "float32"
    student, _ = training.distill(_config(
        tmp_path, student="resnet8", teacher_weights=str(
            tmp_path / "teacher" / "checkpoints" / "last.keras"),
        output_dir=str(tmp_path / "student")))
    assert student.dtype_policy.compute_dtype == "bfloat16"
    after = create("resnet8", num_classes=10, input_shape=(8, 8, 1))
    assert after.dtype_policy.name == "float32"
    assert all(w.dtype == "float32" for w in after.weights)


def test_the_policy_is_restored_when_the_run_fails(tmp_path, float32_policy,
                                                  monkeypatch):
    seen = []

    def failing_load(config, strategy):  # after the policy was set
        seen.append(keras.mixed_precision.global_policy().name)
        raise ValueError("no data")

    monkeypatch.setattr(training.engine, "load_data", failing_load)
    with pytest.raises(ValueError, match="no data"):
        training.train_teacher(_config(
            tmp_path, model="resnet8", output_dir=str(tmp_path / "t")))
    assert seen == ["mixed_bfloat16"]
    assert keras.mixed_precision.global_policy().name == "float32"
