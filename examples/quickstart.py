"""Quick start from Python: the training engine, offline, on digits.

`keras_mixkd.training` runs what the `mixkd` commands run, from a frozen
`RunConfig` (fields named like the flags): a resnet14 teacher, then a resnet8
student with classic KD (T=4) and with MixKD (partial mixup + MIXSTD, the
paper's recipe). Each run owns a run folder under `runs/example` and
resumes from it when started again. About three minutes on a 2-core CPU.

    python examples/quickstart.py
"""

import dataclasses

from keras_mixkd import training


def main(root="runs/example", epochs=8, seed=0):
    base = training.RunConfig(dataset="digits", epochs=epochs, seed=seed,
                              teacher="resnet14", student="resnet8",
                              verbose="2")
    teacher, summary = training.train_teacher(dataclasses.replace(
        base, model="resnet14", output_dir=f"{root}/teacher"))
    results = {"teacher resnet14": summary}
    for label, settings in (
            ("resnet8 + KD (T=4)",
             dict(loss="kd", temperature=4.0, mixing="none")),
            ("resnet8 + MixKD (PMU + MIXSTD)", dict())):  # the defaults
        config = dataclasses.replace(
            base, output_dir=f"{root}/{settings.get('loss', 'mixkd')}",
            **settings)
        _, results[label] = training.distill(config, teacher=teacher)
    for label, summary in results.items():
        print(f"{label:<32} last {100 * summary['last_accuracy']:.2f}%  "
              f"best {100 * summary['best_accuracy']:.2f}%")
    return results


if __name__ == "__main__":
    main()
