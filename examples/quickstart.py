"""Quick start: distil a ResNet teacher into a small ResNet with MixKD, offline.

On scikit-learn's bundled digits (real data, no network), trains a resnet14
teacher, then a resnet8 student three ways: alone, with classic KD (T=4), and
with MixKD (partial mixup + MIXSTD, the paper's recipe), and prints a table of
clean test accuracy. About three minutes on a 2-core CPU.

    python examples/quickstart.py [--epochs 8] [--seed 0]
"""

import argparse
import time

import keras

import keras_mixkd
from keras_mixkd.data import load_digits

NUM_CLASSES = 10


def sgd():
    return keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)


def train_alone(model, train, test, epochs):
    model.compile(optimizer=sgd(),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=["accuracy"])
    model.fit(*train, batch_size=64, epochs=epochs, verbose=0)
    return model.evaluate(*test, verbose=0, return_dict=True)["accuracy"]


def distil(teacher, train, test, epochs, **distiller_args):
    student = keras_mixkd.models.create("resnet8", num_classes=NUM_CLASSES)
    distiller = keras_mixkd.Distiller(student=student, teacher=teacher,
                                      **distiller_args)
    distiller.compile(optimizer=sgd(), metrics=["accuracy"])
    distiller.fit(*train, batch_size=64, epochs=epochs, verbose=0)
    return distiller.evaluate(*test, verbose=0, return_dict=True)["accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    train, test = load_digits(seed=args.seed)
    print(f"digits: {len(train[0])} train / {len(test[0])} test images, "
          f"{train[0].shape[1:]} each")

    rows, start = [], time.time()
    teacher = keras_mixkd.models.create("resnet14", num_classes=NUM_CLASSES)
    rows.append(("teacher resnet14", train_alone(teacher, train, test,
                                                 args.epochs)))
    student = keras_mixkd.models.create("resnet8", num_classes=NUM_CLASSES)
    rows.append(("student resnet8 alone", train_alone(student, train, test,
                                                      args.epochs)))
    rows.append(("resnet8 + KD (T=4)", distil(
        teacher, train, test, args.epochs, mixer=None, distillation_loss="kd",
        temperature=4.0)))
    rows.append(("resnet8 + MixKD (PMU + MIXSTD)", distil(
        teacher, train, test, args.epochs, seed=args.seed)))

    print(f"\n{'model':<32} {'test accuracy':>13}")
    for name, accuracy in rows:
        print(f"{name:<32} {100 * accuracy:>12.2f}%")
    print(f"\n{args.epochs} epochs each, {time.time() - start:.0f} s in all")


if __name__ == "__main__":
    main()
