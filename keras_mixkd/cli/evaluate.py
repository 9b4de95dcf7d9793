"""``mixkd evaluate``: clean test accuracy and loss of a trained model.

    mixkd evaluate --model=resnet8x4 --weights=runs/.../best.keras --dataset=cifar100
"""

import json
import pathlib

from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags



def main():
    config = flags.command_config("evaluate")
    results = training.evaluate(config)
    print(json.dumps(results, indent=2))
    if config.output_dir:
        training.write_json(
            pathlib.Path(config.output_dir) / "evaluation.json", results)
