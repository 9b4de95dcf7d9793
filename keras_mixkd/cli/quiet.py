"""TensorFlow's start-up without its C++ log lines (`keras_mixkd._stderr`).

TensorFlow 2.21 writes its start-up lines from C++ straight to file
descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` applies to them;
`import_tensorflow` drops them and keeps Python's messages.
"""

import contextlib
import sys
import warnings

from keras_mixkd._stderr import c_stderr_dropped
from keras_mixkd._stderr import wants_cpp_logs


#: Python warnings raised while Keras and TensorFlow are imported that say
#: nothing to a user of the commands, as ``(message, category, module)``:
#: Keras 3.13's ONNX export module tests ``np.object`` at import, which
#: NumPy 2 answers with a FutureWarning.
IMPORT_WARNINGS = (
    (r"In the future `np\.object`", FutureWarning,
     r"keras\.src\.export\.tf2onnx_lib"),
)


def import_tensorflow():
    """Imports TensorFlow and Keras and lists the devices, without C++ log
    lines or `IMPORT_WARNINGS`.

    Listing the physical devices initialises the CUDA platform, which logs
    ``failed call to cuInit`` on a machine without a GPU; done here, that
    line is dropped too. The C++ lines stay when TensorFlow is already
    imported or `wants_cpp_logs`.

    Returns:
        The ``tensorflow`` module.
    """
    quiet = "tensorflow" not in sys.modules and not wants_cpp_logs()
    with warnings.catch_warnings(), (
            c_stderr_dropped() if quiet else contextlib.nullcontext()):
        for message, category, module in IMPORT_WARNINGS:
            warnings.filterwarnings("ignore", message, category, module)
        import keras  # noqa: F401
        import tensorflow as tf
        if quiet:
            tf.config.list_physical_devices()
    return tf
