"""``mixkd train-teacher``: train a model alone, with or without mixup.

The paper compares teachers trained with and without mixup: a mixup-trained
teacher is already smooth, and distilling it at a high temperature
over-smooths the student.

    mixkd train-teacher --model=resnet32x4 --dataset=cifar100 [--mixup_alpha=1]
"""

from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags



def main():
    training.train_teacher(flags.command_config("train-teacher"))
