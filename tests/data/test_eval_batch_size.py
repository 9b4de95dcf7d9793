"""Evaluation pipelines: batch-level normalisation and their own batch size."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import data
from keras_mixkd import settings
from keras_mixkd.data import pipeline
from keras_mixkd.training import engine
from keras_mixkd.training.config import RunConfig


def _info(mean, std):
    return data.DatasetInfo("arrays", 3, (4, 4, 2), mean, std, 10, 10)


def test_normalisation_of_whole_batches_matches_the_formula():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 4, 4, 2), dtype=np.uint8)
    labels = rng.integers(0, 3, 10)
    mean, std = (0.25, 0.5), (0.2, 0.3)
    ds = pipeline.build(tf.data.Dataset.from_tensor_slices((images, labels)),
                        _info(mean, std), 4, False)
    got = np.concatenate([x.numpy() for x, _ in ds])
    expected = (images.astype(np.float32) / 255.0 - np.float32(mean)) / (
        np.float32(std))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert [int(y.shape[0]) for _, y in ds] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([y for _, y in ds]),
                                  labels)
    # Float images in [0, 1] are taken as they are.
    floats = images.astype(np.float32) / 255.0
    ds = pipeline.build(tf.data.Dataset.from_tensor_slices((floats, labels)),
                        _info(mean, std), 4, False)
    np.testing.assert_allclose(np.concatenate([x for x, _ in ds]), expected,
                               rtol=1e-6, atol=1e-6)


def test_training_batches_are_normalised_augmented_images():
    images = np.full((6, 4, 4, 2), 255, np.uint8)
    ds = pipeline.build(
        tf.data.Dataset.from_tensor_slices((images, np.zeros(6, np.int64))),
        _info((0.5, 0.5), (0.25, 0.5)), 3, True, flip=False)
    values = np.unique(np.concatenate([x.numpy() for x, _ in ds]))
    # A padded crop shows 1.0 pixels and zero padding: (1 - .5) / .25 = 2,
    # (1 - .5) / .5 = 1, (0 - .5) / .25 = -2, (0 - .5) / .5 = -1.
    assert set(values.tolist()) <= {2.0, 1.0, -2.0, -1.0}
    assert 2.0 in values and 1.0 in values


def test_load_splits_batches_evaluation_on_its_own():
    splits = data.load_splits("digits", batch_size=32, eval_batch_size=100,
                              validation_split=0.2)
    assert int(next(iter(splits.train))[0].shape[0]) == 32
    assert [int(y.shape[0]) for _, y in splits.test] == [100, 100, 100, 60]
    assert int(next(iter(splits.validation))[0].shape[0]) == 100
    default = data.load_splits("digits", batch_size=32)
    assert int(next(iter(default.test))[0].shape[0]) == 32
    with pytest.raises(ValueError, match="`eval_batch_size` must be >= 1"):
        data.load_splits("digits", eval_batch_size=0)


def test_accuracy_does_not_depend_on_the_evaluation_batch():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)),
                              keras.layers.Conv2D(4, 3),
                              keras.layers.BatchNormalization(),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(10)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    results = [model.evaluate(data.load_splits(
        "digits", batch_size=64, eval_batch_size=size).test, verbose=0,
        return_dict=True) for size in (7, 64, 360)]
    for result in results[1:]:
        assert result["accuracy"] == results[0]["accuracy"]
        assert result["loss"] == pytest.approx(results[0]["loss"], rel=1e-5)


def test_run_config_resolves_the_evaluation_batch():
    config = RunConfig(dataset="digits")
    assert config.eval_batch_size is None
    assert config.resolved_eval_batch_size() == (
        settings.MIN_EVAL_BATCH_SIZE) == 256
    assert dataclasses.replace(
        config, batch_size=512).resolved_eval_batch_size() == 512
    assert dataclasses.replace(
        config, eval_batch_size=7).resolved_eval_batch_size() == 7
    assert "eval_batch_size" not in dataclasses.replace(
        config, eval_batch_size=7).record("distill")
    with pytest.raises(ValueError, match="`eval_batch_size` must be >= 1"):
        RunConfig(dataset="digits", eval_batch_size=0)


def test_the_engine_batches_evaluation_per_replica():
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
    strategy = tf.distribute.MirroredStrategy(cpus)
    config = RunConfig(dataset="digits", batch_size=16, eval_batch_size=50)
    splits = engine.load_data(config, strategy)
    assert isinstance(splits, data.Splits)
    assert int(next(iter(splits.train))[0].shape[0]) == 32
    assert int(next(iter(splits.test))[0].shape[0]) == 100
    assert engine.epoch_steps(splits, 32) == 45  # ceil(1437 / 32)
