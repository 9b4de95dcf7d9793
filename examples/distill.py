"""Distil a trained teacher into a student with MixKD, the `model.fit` way.

`keras_mixkd.Distiller` wraps a student and a frozen teacher. Each training
step mixes part of the batch (partial mixup), feeds the *same* mixed batch
to both networks and trains the student on

    loss = 0.1 * CE(mixed labels, student / std)
         + 0.9 * KL(teacher / std || student / std)

each network's logits divided by their own per-sample standard deviation
(MIXSTD): the paper's recipe, the Distiller's defaults. Classic KD is
``Distiller(..., mixer=None, distillation_loss="kd", temperature=4.0)``.
The teacher is a `.keras` file (e.g. from `examples/train_teacher.py`) or an
official RepDistiller / MIX-KD `.pth` checkpoint (read without torch):

    python examples/train_teacher.py && python examples/distill.py

`mixkd distill` (or `keras_mixkd.training.distill`) does the same with run
folders, checkpoints, resumption and multi-GPU strategies.
"""

import keras

import keras_mixkd


def load_teacher(path, architecture, info):
    """A teacher from a .keras file, or an official PyTorch checkpoint."""
    if str(path).endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    teacher = keras_mixkd.models.create(architecture, info.num_classes,
                                        input_shape=info.image_shape)
    # All or nothing: a checkpoint of another architecture or number of
    # classes raises an error naming the differing tensors.
    return keras_mixkd.models.load_torch_weights(teacher, path)


def main(teacher_weights="teacher.keras", teacher_name=None,
         student_name="resnet8", dataset="digits", epochs=8,
         output="student.keras", seed=0):
    keras.utils.set_random_seed(seed)
    train_ds, test_ds, info = keras_mixkd.data.load(dataset, batch_size=64,
                                                    seed=seed)
    teacher = load_teacher(teacher_weights, teacher_name, info)
    student = keras_mixkd.models.create(student_name, info.num_classes,
                                        input_shape=info.image_shape)
    distiller = keras_mixkd.Distiller(student=student, teacher=teacher,
                                      seed=seed)
    distiller.compile(
        optimizer=keras_mixkd.recipe.paper_optimizer(
            student_name, steps_per_epoch=int(train_ds.cardinality()),
            epochs=epochs),
        metrics=["accuracy"])
    # Logs loss, ce_loss, kd_loss, accuracy (against the mixed labels) and
    # val_loss (CE of what the student is trained to output: for MIXSTD, of
    # its std-scaled logits), val_raw_ce (CE of its raw logits) and
    # val_accuracy: the student alone on clean test images.
    distiller.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=2)
    accuracy = distiller.evaluate(test_ds, verbose=0,
                                  return_dict=True)["accuracy"]
    student.save(output)
    print(f"{teacher.name} -> {student_name} on {dataset}: test accuracy "
          f"{100 * accuracy:.2f}%; saved {output}")
    return student, accuracy


if __name__ == "__main__":
    main()
