"""``mixkd distill``: distil a teacher into a student, MixKD or classic KD.

    mixkd distill --teacher=resnet32x4 --teacher_weights=resnet32x4.pth \\
        --student=resnet8x4 --dataset=cifar100 --preset=paper

``--teacher_weights`` takes a ``.keras`` file (e.g. from ``mixkd
train-teacher``) or an official RepDistiller/MIX-KD ``.pth`` checkpoint.
"""

from keras_mixkd import training
from keras_mixkd.cli import flags

FLAGS_USED = flags.TRAINING + flags.DISTILLATION + (
    "teacher", "teacher_weights", "student", "preset")


def main():
    training.distill(flags.run_config())
