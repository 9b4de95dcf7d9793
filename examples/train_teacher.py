"""Train a teacher with the paper's recipe, the plain `model.fit` way.

A network of the RepDistiller CIFAR model zoo is trained alone with the
official protocol (`keras_mixkd.recipe.paper_optimizer`: SGD momentum 0.9,
weight decay 5e-4 coupled to the gradient as in PyTorch, learning rate x0.1
after 150/180/210 of 240 epochs, scaled to shorter runs) on the pipelines of
`keras_mixkd.data.load` (random crop and flip for CIFAR), and saved as a
`.keras` file that `examples/distill.py` takes as `--teacher_weights`.

`--mixup_alpha` trains a *mixup teacher* (full mixup, lambda ~ Beta(a, a)):
the paper shows such a teacher is smoother, and that distilling it at a high
temperature over-smooths the student.

Offline on scikit-learn's bundled digits (about two minutes on a laptop CPU):

    python examples/train_teacher.py --model resnet14 --output teacher.keras

On CIFAR-100 (a GPU, tensorflow-datasets downloads the data once):

    python examples/train_teacher.py --dataset cifar100 --model resnet32x4 \\
        --output resnet32x4.keras

The `mixkd train-teacher` command does the same with run folders,
checkpoints, resumption and multi-GPU strategies.
"""

import argparse

import keras

import keras_mixkd

#: Epochs when --epochs is not given (the paper's 240 for CIFAR).
DEFAULT_EPOCHS = {"digits": 20}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="digits",
                        choices=keras_mixkd.data.DATASETS)
    parser.add_argument("--data_dir", default=None,
                        help="tensorflow-datasets directory (CIFAR).")
    parser.add_argument("--model", default="resnet14",
                        choices=keras_mixkd.models.available())
    parser.add_argument("--epochs", type=int, default=None,
                        help="Default: 20 on digits, 240 (the paper) on "
                        "CIFAR.")
    parser.add_argument("--batch_size", type=int,
                        default=keras_mixkd.recipe.BATCH_SIZE)
    parser.add_argument("--learning_rate", type=float, default=None,
                        help="Base rate for batch 64; default: the paper's "
                        "(0.05, or 0.01 for MobileNetV2/ShuffleV1/V2).")
    parser.add_argument("--mixup_alpha", type=float, default=0.0,
                        help="Train with full mixup, Beta(a, a); 0: no mixup "
                        "(the paper's standard teachers).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None,
                        help="The .keras file to write; default: "
                        "<model>_<dataset>.keras.")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.dataset,
                                         keras_mixkd.recipe.EPOCHS)
    args.output = args.output or f"{args.model}_{args.dataset}.keras"
    if not args.output.endswith(".keras"):
        parser.error(f"--output must end with .keras, got {args.output}.")
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    # Normalised, augmented pipelines batched by 64, as in the paper.
    train_ds, test_ds, info = keras_mixkd.data.load(
        args.dataset, batch_size=args.batch_size, data_dir=args.data_dir,
        seed=args.seed)
    # One-hot labels, so mixed (soft) labels fit the same loss.
    train_ds = keras_mixkd.data.one_hot(train_ds, info.num_classes)
    test_ds = keras_mixkd.data.one_hot(test_ds, info.num_classes)
    if args.mixup_alpha > 0:  # full mixup of every batch
        train_ds = keras_mixkd.data.mix(train_ds, keras_mixkd.PartialMixUp(
            alpha=args.mixup_alpha, mix_fraction=1.0, seed=args.seed))

    model = keras_mixkd.models.create(args.model,
                                      num_classes=info.num_classes,
                                      input_shape=info.image_shape)
    optimizer = keras_mixkd.recipe.paper_optimizer(
        args.model, steps_per_epoch=int(train_ds.cardinality()),
        epochs=args.epochs, global_batch_size=args.batch_size,
        learning_rate=args.learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    model.fit(train_ds, validation_data=test_ds, epochs=args.epochs,
              verbose=2)

    accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)[
        "accuracy"]
    model.save(args.output)
    print(f"{args.model} on {args.dataset}: test accuracy "
          f"{100 * accuracy:.2f}% after {args.epochs} epochs; saved "
          f"{args.output}")
    return model, accuracy


if __name__ == "__main__":
    main()
