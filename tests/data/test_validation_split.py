"""``validation_split``: a class-stratified, seeded share held out of training."""

import hashlib

import numpy as np
import pytest

from keras_mixkd import data
from keras_mixkd import training


def _labels():
    # Unbalanced classes: 50, 30 and 20 examples.
    return np.repeat([0, 1, 2], [50, 30, 20])


def test_held_out_share_is_stratified_disjoint_and_seeded():
    labels = _labels()
    kept, held = data.held_out_indices(labels, 0.1, seed=3)
    assert len(held) == 10 and len(kept) == 90
    assert np.intersect1d(kept, held).size == 0
    np.testing.assert_array_equal(np.union1d(kept, held), np.arange(100))
    # Each class in proportion: 5, 3 and 2 of 50, 30 and 20.
    np.testing.assert_array_equal(np.bincount(labels[held]), [5, 3, 2])
    again, held_again = data.held_out_indices(labels, 0.1, seed=3)
    np.testing.assert_array_equal(held, held_again)
    _, other = data.held_out_indices(labels, 0.1, seed=4)
    assert not np.array_equal(held, other)


def test_held_out_share_comes_from_the_train_size_subset():
    labels = _labels()
    subset = data.stratified_indices(labels, 40, seed=0)
    kept, held = data.held_out_indices(labels, 0.25, seed=0, train_size=40)
    np.testing.assert_array_equal(np.union1d(kept, held), subset)
    assert len(held) == 10


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_a_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match="validation_split"):
        data.held_out_indices(_labels(), fraction, seed=0)
    with pytest.raises(ValueError, match="`validation_split"):
        training.RunConfig(dataset="digits", validation_split=fraction)


def test_a_share_too_small_to_hold_one_image_is_refused():
    with pytest.raises(ValueError, match="at least one image"):
        data.held_out_indices(_labels(), 0.001, seed=0)


def _hashes(dataset):
    return {hashlib.sha1(np.asarray(image).tobytes()).hexdigest()
            for images, _ in dataset for image in images}


def test_load_splits_holds_the_share_out_of_the_train_pipeline():
    full = data.load_splits("digits", batch_size=256, image_size=8,
                            augment_train=False)
    assert full.validation is None
    splits = data.load_splits("digits", batch_size=256, image_size=8,
                              augment_train=False, validation_split=0.1,
                              seed=0)
    total = full.info.num_train
    held = round(0.1 * total)
    assert splits.info.num_train == total - held
    train, validation = _hashes(splits.train), _hashes(splits.validation)
    assert sum(len(y) for _, y in splits.validation) == held
    assert sum(len(y) for _, y in splits.train) == total - held
    assert not train & validation  # never trained on
    assert train | validation == _hashes(full.train)
    # The test set is untouched.
    assert _hashes(splits.test) == _hashes(full.test)
    # Normalised with the full training set's mean and std.
    assert splits.info.mean == full.info.mean


def test_run_config_records_the_split_only_when_set():
    base = training.RunConfig(dataset="digits", model="resnet8")
    assert "validation_split" not in base.record("train-teacher")
    zero = training.RunConfig(dataset="digits", validation_split=0)
    assert zero.validation_split is None
    assert "validation_split" not in zero.record("distill")
    held = training.RunConfig(dataset="digits", validation_split=0.1)
    assert held.record("distill")["validation_split"] == 0.1


def test_the_flag_is_checked_and_belongs_to_the_training_commands(capsys):
    from keras_mixkd.cli import main as cli

    assert cli.run(["mixkd", "train-teacher", "--model=resnet8",
                    "--dataset=digits", "--validation_split=1.5"]) == 1
    error = capsys.readouterr().err
    assert "--validation_split" in error and "Traceback" not in error
    assert cli.run(["mixkd", "evaluate", "--weights=w.keras",
                    "--validation_split=0.1"]) == 1
    assert "does not take --validation_split" in capsys.readouterr().err
