"""``mixkd convert``: an official PyTorch checkpoint to a ``.keras`` file.

    mixkd convert --model=resnet32x4 --weights=ckpt_epoch_240.pth \\
        --output=resnet32x4.keras
"""

from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.models import torch_import
from keras_mixkd.training.engine import check_model_name
from keras_mixkd.training.weights import check_model_file



def main():
    config = flags.command_config("convert")
    missing = [f"--{n}" for n in ("model", "weights", "output")
               if not getattr(config, n)]
    if missing:
        raise ValueError(f"Missing {', '.join(missing)}.")
    check_model_name(config.model, "model", applications=False)
    if not config.output.endswith(".keras"):
        raise ValueError(f"--output must end with .keras, got "
                         f"{config.output}.")
    check_model_file(config.weights, "weights")
    try:
        torch_import.convert_torch_checkpoint(
            config.model, config.weights, config.output,
            num_classes=config.num_classes)
    except (ValueError, OSError) as e:
        raise ValueError(f"Could not convert {config.weights} as "
                         f"{config.model}: {e}") from e
    print(f"wrote {config.output}")
