"""Distil a trained teacher into a student with MixKD, the `model.fit` way.

`keras_mixkd.Distiller` wraps a student and a frozen teacher. Each training
step mixes part of the batch (partial mixup, PMU), feeds the *same* mixed
batch to both networks, and trains the student on

    loss = 0.1 * CE(mixed labels, student / std)
         + 0.9 * KL(teacher / std || student / std)

where each network's logits are divided by their own per-sample standard
deviation (MIXSTD, an adaptive temperature): the paper's recipe. Classic KD
(T=4, no mixup) is `--loss kd --mixing none`.

The teacher is a `.keras` file (from `examples/train_teacher.py`, or an
official checkpoint converted by `mixkd convert`) or an official
RepDistiller / MIX-KD PyTorch checkpoint (`.pth`, read without torch and
without running code from the file; give its architecture with
`--teacher`).

Offline on digits, with the teacher of `examples/train_teacher.py`:

    python examples/train_teacher.py --model resnet14 --output teacher.keras
    python examples/distill.py --teacher_weights teacher.keras \\
        --student resnet8 --output student.keras

On CIFAR-100 with an official teacher (RepDistiller layout):

    python examples/distill.py --dataset cifar100 --teacher resnet32x4 \\
        --teacher_weights save/models/resnet32x4_vanilla/ckpt_epoch_240.pth \\
        --student resnet8x4 --output resnet8x4_mixkd.keras
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
    parser.add_argument("--teacher_weights", required=True,
                        help="The teacher: a .keras file or an official "
                        ".pth checkpoint.")
    parser.add_argument("--teacher", default=None,
                        choices=keras_mixkd.models.available(),
                        help="Teacher architecture (needed for a .pth).")
    parser.add_argument("--student", default="resnet8",
                        choices=keras_mixkd.models.available())
    parser.add_argument("--loss", default="mixstd",
                        choices=["mixstd", "kd", "ls"],
                        help="MIXSTD (the paper), classic KD, or logit "
                        "standardization.")
    parser.add_argument("--temperature", type=float, default=None,
                        help="For kd (default 4) and ls (default 2).")
    parser.add_argument("--mixing", default="pmu",
                        choices=["pmu", "fmu", "none"],
                        help="Partial mixup, full mixup, or none.")
    parser.add_argument("--mix_fraction", type=float, default=0.1,
                        help="pmu: the share of each batch to mix (official "
                        "--partmixup 0.9).")
    parser.add_argument("--mix_sampling", default="official",
                        choices=["official", "exact"],
                        help="pmu: the official sampling (with replacement: "
                        "about 41%% mixed at batch 64) or exactly "
                        "--mix_fraction.")
    parser.add_argument("--beta_alpha", type=float, default=1.0,
                        help="lambda ~ Beta(a, a).")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Default: 20 on digits, 240 (the paper) on "
                        "CIFAR.")
    parser.add_argument("--batch_size", type=int,
                        default=keras_mixkd.recipe.BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None,
                        help="The student's .keras file; default: "
                        "<student>_<loss>_<dataset>.keras.")
    args = parser.parse_args(argv)
    if not args.teacher_weights.endswith(".keras") and args.teacher is None:
        parser.error("a PyTorch checkpoint needs its architecture: add "
                     "--teacher=<name>.")
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS.get(args.dataset,
                                         keras_mixkd.recipe.EPOCHS)
    args.output = args.output or (
        f"{args.student}_{args.loss}_{args.dataset}.keras")
    return args


def load_teacher(path, architecture, info):
    """A teacher from a .keras file, or an official PyTorch checkpoint."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    teacher = keras_mixkd.models.create(architecture,
                                        num_classes=info.num_classes,
                                        input_shape=info.image_shape)
    # All or nothing: a checkpoint of another architecture or number of
    # classes raises CheckpointMismatchError naming the differing tensors.
    return keras_mixkd.models.load_torch_weights(teacher, path)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    train_ds, test_ds, info = keras_mixkd.data.load(
        args.dataset, batch_size=args.batch_size, data_dir=args.data_dir,
        seed=args.seed)

    teacher = load_teacher(args.teacher_weights, args.teacher, info)
    teacher.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    teacher_accuracy = teacher.evaluate(test_ds, verbose=0,
                                        return_dict=True)["accuracy"]
    print(f"teacher {teacher.name}: test accuracy "
          f"{100 * teacher_accuracy:.2f}%")

    student = keras_mixkd.models.create(args.student,
                                        num_classes=info.num_classes,
                                        input_shape=info.image_shape)
    distiller = keras_mixkd.Distiller(
        student=student, teacher=teacher, mixer=keras_mixkd.mixing.get(
            args.mixing, seed=args.seed, alpha=args.beta_alpha,
            mix_fraction=args.mix_fraction, sampling=args.mix_sampling),
        distillation_loss=args.loss, temperature=args.temperature)
    distiller.compile(
        optimizer=keras_mixkd.recipe.paper_optimizer(
            args.student, steps_per_epoch=int(train_ds.cardinality()),
            epochs=args.epochs, global_batch_size=args.batch_size),
        metrics=["accuracy"])
    # Logs loss, ce_loss, kd_loss and accuracy (against the mixed labels)
    # and val_loss, val_accuracy (the student alone on clean test images).
    distiller.fit(train_ds, validation_data=test_ds, epochs=args.epochs,
                  verbose=2)

    accuracy = distiller.evaluate(test_ds, verbose=0,
                                  return_dict=True)["accuracy"]
    distiller.student.save(args.output)
    print(f"{teacher.name} -> {args.student} ({args.loss}, mixing "
          f"{args.mixing}) on {args.dataset}: test accuracy "
          f"{100 * accuracy:.2f}%; saved {args.output}")
    return distiller.student, accuracy


if __name__ == "__main__":
    main()
