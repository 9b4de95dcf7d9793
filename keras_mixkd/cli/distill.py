"""``mixkd distill``: distil a teacher into a student, MixKD or classic KD.

    mixkd distill --teacher=resnet32x4 --teacher_weights=resnet32x4.pth \\
        --student=resnet8x4 --dataset=cifar100 --preset=paper

``--teacher_weights`` takes a ``.keras`` file (e.g. from ``mixkd
train-teacher``; its architecture comes with it, so ``--teacher`` is
optional) or an official RepDistiller/MIX-KD ``.pth`` checkpoint of
``--teacher``. ``--student_weights`` warm-starts the student the same way.
``--teacher``/``--student`` also take ``keras.applications.<Name>``:

    mixkd distill --teacher_weights=runs/teacher/checkpoints/best.keras \\
        --student=keras.applications.MobileNetV3Small \\
        --dataset=folder:flowers --image_size=64
"""

from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags



def main():
    training.distill(flags.command_config("distill"))
