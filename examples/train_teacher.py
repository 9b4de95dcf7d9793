"""Train a teacher with the paper's recipe, the plain `model.fit` way.

A network of the RepDistiller CIFAR model zoo trained alone with the official
protocol (`keras_mixkd.recipe.paper_optimizer`: SGD momentum 0.9, weight
decay 5e-4 coupled to the gradient as in PyTorch, learning rate x0.1 after
150/180/210 of 240 epochs, scaled to shorter runs) on the pipelines of
`keras_mixkd.data.load`, saved as a `.keras` file. `mixup_alpha > 0` trains
a *mixup teacher* (full mixup, lambda ~ Beta(a, a)), which the paper shows
is smoother. Offline on digits in about two minutes:

    python examples/train_teacher.py          # writes teacher.keras

`mixkd train-teacher` (or `keras_mixkd.training.train_teacher`) does the
same with run folders, checkpoints, resumption and multi-GPU strategies.
"""

import keras

import keras_mixkd


def main(model_name="resnet14", dataset="digits", epochs=8, mixup_alpha=0.0,
         output="teacher.keras", seed=0):
    keras.utils.set_random_seed(seed)
    train_ds, test_ds, info = keras_mixkd.data.load(dataset, batch_size=64,
                                                    seed=seed)
    # One-hot labels, so mixed (soft) labels fit the same loss.
    train_ds = keras_mixkd.data.one_hot(train_ds, info.num_classes)
    test_ds = keras_mixkd.data.one_hot(test_ds, info.num_classes)
    if mixup_alpha > 0:
        train_ds = keras_mixkd.data.mix(train_ds, keras_mixkd.mixing.get(
            "fmu", seed=seed, alpha=mixup_alpha))

    model = keras_mixkd.models.create(model_name, info.num_classes,
                                      input_shape=info.image_shape)
    model.compile(
        optimizer=keras_mixkd.recipe.paper_optimizer(
            model_name, steps_per_epoch=int(train_ds.cardinality()),
            epochs=epochs),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=2)
    accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)[
        "accuracy"]
    model.save(output)
    print(f"{model_name} on {dataset}: test accuracy {100 * accuracy:.2f}%;"
          f" saved {output}")
    return model, accuracy


if __name__ == "__main__":
    main()
