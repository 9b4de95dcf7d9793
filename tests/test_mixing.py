"""Statistics and semantics of partial / full mixup."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import mixing
from keras_mixkd.mixing import PartialMixUp

B = 64


def _batch(batch_size=B, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch_size, 4, 4, 3)).astype("float32")
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes,
                                                           batch_size)]
    return images, labels


def _draw(layer, n, batch_size=B):
    """``n`` independent transformations, drawn in one compiled loop."""
    images = tf.constant(_batch(batch_size)[0])

    @tf.function
    def draw_all():
        keys = ("first", "second", "mix_weight", "mixed")
        arrays = {k: tf.TensorArray(tf.bool if k == "mixed" else (
            tf.float32 if k == "mix_weight" else tf.int32), size=n)
            for k in keys}
        for i in tf.range(n):
            t = layer.get_random_transformation({"images": images})
            arrays = {k: arrays[k].write(i, t[k]) for k in keys}
        return {k: a.stack() for k, a in arrays.items()}

    return {k: v.numpy() for k, v in draw_all().items()}


def test_official_sampling_mixes_about_41_percent_at_batch_64():
    t = _draw(PartialMixUp(mix_fraction=0.1, seed=1), 400)
    expected = (1 - 1 / B) ** np.floor(B * 0.9)  # 0.4083
    assert abs(expected - 0.408) < 1e-3
    assert abs(t["mixed"].mean() - expected) < 0.015


def test_exact_sampling_mixes_exactly_the_fraction():
    t = _draw(PartialMixUp(mix_fraction=0.1, sampling="exact", seed=2), 100)
    np.testing.assert_array_equal(t["mixed"].sum(axis=1), round(B * 0.1))
    # Exact mode never pairs a mixed row with itself.
    mixed = t["mixed"]
    assert np.all(t["first"][mixed] != t["second"][mixed])


@pytest.mark.parametrize("sampling", ["official", "exact"])
def test_full_mixup_mixes_every_row(sampling):
    t = _draw(PartialMixUp(mix_fraction=1.0, sampling=sampling, seed=3), 50)
    assert t["mixed"].mean() > 0.99


def test_zero_fraction_mixes_nothing():
    t = _draw(PartialMixUp(mix_fraction=0.0, sampling="exact", seed=3), 20)
    assert not t["mixed"].any()
    # The official sampling still mixes (1 - 1/B)^B = 36.8% here: its quirk.
    t = _draw(PartialMixUp(mix_fraction=0.0, seed=3), 200)
    assert abs(t["mixed"].mean() - (1 - 1 / B) ** B) < 0.015


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_lambda_follows_beta(alpha):
    t = _draw(PartialMixUp(alpha=alpha, mix_fraction=1.0, seed=4), 200)
    lam = t["mix_weight"].ravel()
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)).
    assert abs(lam.mean() - 0.5) < 0.01
    assert abs(lam.var() - 1 / (4 * (2 * alpha + 1))) < 0.01


def test_permutations_are_independent_permutations():
    t = _draw(PartialMixUp(mix_fraction=1.0, seed=5), 200)
    for key in ("first", "second"):
        assert np.all(np.sort(t[key], axis=1) == np.arange(B))
    # Independent permutations agree on a row with probability 1/B.
    assert abs((t["first"] == t["second"]).mean() - 1 / B) < 0.01


def test_images_and_labels_are_the_same_convex_combination():
    images, labels = _batch(16)
    out = PartialMixUp(mix_fraction=0.5, seed=6)(
        {"images": images, "labels": labels}, training=True)
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0,
                               rtol=1e-6)
    # Replay the same draw with an identically seeded layer.
    t = PartialMixUp(mix_fraction=0.5, seed=6).get_random_transformation(
        {"images": images})
    lam = np.asarray(t["mix_weight"])
    a, b = np.asarray(t["first"]), np.asarray(t["second"])
    assert 0 < np.sum(lam < 1) < 16
    np.testing.assert_allclose(
        out["images"], lam[:, None, None, None] * images[a]
        + (1 - lam[:, None, None, None]) * images[b], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        out["labels"], lam[:, None] * labels[a] + (1 - lam[:, None]) * labels[b],
        rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sampling", ["official", "exact"])
def test_mixed_rows_differ_from_every_input_and_clean_rows_equal_one(
        sampling):
    images, labels = _batch(16, seed=9)
    layer = PartialMixUp(mix_fraction=0.25, sampling=sampling, seed=11)
    t = layer.get_random_transformation({"images": images})
    out = np.asarray(layer.transform_images(images, t))
    mixed = np.asarray(t["mixed"])
    lam = np.asarray(t["mix_weight"])
    assert 0 < mixed.sum() < 16
    # Distance of each output row to its nearest input image.
    nearest = np.abs(out[:, None] - images[None]).max(axis=(2, 3, 4)).min(1)
    for i in range(16):
        same_pair = t["first"][i] == t["second"][i]
        if mixed[i] and not same_pair and 1e-3 < lam[i] < 1 - 1e-3:
            assert nearest[i] > 1e-2, i  # a new image, not any input
        elif not mixed[i]:
            assert lam[i] == 1.0
            assert nearest[i] == 0.0, i  # exactly one input image


def test_identity_when_not_training():
    images, labels = _batch(8)
    out = PartialMixUp(mix_fraction=1.0, seed=7)(
        {"images": images, "labels": labels}, training=False)
    np.testing.assert_array_equal(out["images"], images)
    np.testing.assert_array_equal(out["labels"], labels)


def test_seeded_layers_are_reproducible():
    images, labels = _batch(8)
    outs = [PartialMixUp(mix_fraction=1.0, seed=8)(
        {"images": images, "labels": labels}, training=True)["images"]
        for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_works_in_tf_data_and_tf_function():
    images, labels = _batch(32)
    layer = PartialMixUp(mix_fraction=1.0, seed=9)
    ds = tf.data.Dataset.from_tensor_slices(
        {"images": images, "labels": labels}).batch(8).map(
            lambda d: layer(d, training=True))
    batches = list(ds)
    assert len(batches) == 4
    for b in batches:
        np.testing.assert_allclose(b["labels"].numpy().sum(1), 1.0, rtol=1e-6)

    @tf.function
    def step(x, y):
        return layer({"images": x, "labels": y}, training=True)

    out = step(images, labels)
    assert out["images"].shape == images.shape
    # A batch of another size reuses the layer (dynamic batch size).
    assert step(images[:5], labels[:5])["labels"].shape == (5, 10)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", ["mixup", "cutmix", "fmu"])
def test_named_mixers_run_under_mixed_precision(name, policy):
    """Under a mixed policy the named mixers mix in float32 (Keras's CutMix
    failed under mixed_bfloat16 on its float32 mixing weights)."""
    images, labels = _batch(8)
    keras.mixed_precision.set_global_policy(policy)
    try:
        mixer = mixing.get(name, seed=3)
        out = mixer({"images": images, "labels": labels}, training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out["images"].dtype == out["labels"].dtype == tf.float32
    np.testing.assert_allclose(np.sum(out["labels"], axis=-1), 1.0,
                               rtol=1e-5)


def test_keeps_float32_under_mixed_precision():
    images, labels = _batch(8)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        out = PartialMixUp(seed=10)({"images": images, "labels": labels},
                                    training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out["labels"].dtype == tf.float32


@pytest.mark.parametrize("kwargs,match", [
    ({"mix_fraction": 1.5}, "mix_fraction"),
    ({"mix_fraction": -0.1}, "mix_fraction"),
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": -1.0}, "alpha"),
    ({"sampling": "sometimes"}, "sampling"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PartialMixUp(**kwargs)


def test_serialization_round_trip():
    layer = PartialMixUp(alpha=0.4, mix_fraction=0.3, sampling="exact", seed=3)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, PartialMixUp)
    for key in ("alpha", "mix_fraction", "sampling", "seed"):
        assert getattr(restored, key) == getattr(layer, key)


def test_get_resolves_names():
    assert mixing.get(None) is None and mixing.get("none") is None
    assert mixing.get("pmu").sampling == "official"
    assert mixing.get("pmu_exact").sampling == "exact"
    assert mixing.get("fmu").mix_fraction == 1.0
    assert isinstance(mixing.get("mixup"), keras.layers.MixUp)
    assert isinstance(mixing.get("cutmix"), keras.layers.CutMix)
    pmu = mixing.get("pmu", alpha=0.4, mix_fraction=0.3, sampling="exact")
    assert (pmu.alpha, pmu.mix_fraction, pmu.sampling) == (0.4, 0.3, "exact")
    assert mixing.get("fmu", alpha=0.2).alpha == 0.2
    assert mixing.get("mixup", alpha=0.2).alpha == 0.2
    with pytest.raises(ValueError, match="Unknown mixer"):
        mixing.get("shuffle")


@pytest.mark.parametrize("alpha", [0.4, 1.0, 4.0])
def test_beta_sampler_matches_numpy_and_compiles_with_xla(alpha):
    from keras.src.utils.backend_utils import DynamicBackend
    from scipy import stats

    seed = keras.random.SeedGenerator(11)
    sample = tf.function(
        lambda: mixing.symmetric_beta(DynamicBackend(), (20000,), alpha, seed),
        jit_compile=True)().numpy()
    reference = np.random.default_rng(0).beta(alpha, alpha, 20000)
    assert np.all((sample >= 0) & (sample <= 1))
    assert stats.ks_2samp(sample, reference).pvalue > 1e-3


def test_partial_mixup_inside_an_xla_function():
    images, labels = _batch(16)
    layer = PartialMixUp(alpha=0.2, mix_fraction=0.5, seed=12)
    out = tf.function(lambda x, y: layer({"images": x, "labels": y},
                                         training=True),
                      jit_compile=True)(images, labels)
    np.testing.assert_allclose(out["labels"].numpy().sum(1), 1.0, rtol=1e-5)
