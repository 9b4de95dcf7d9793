"""TensorFlow's start-up without its C++ log lines (`keras_mixkd._stderr`).

TensorFlow 2.21 writes its start-up lines from C++ straight to file
descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` applies to them;
`import_tensorflow` drops them and keeps Python's messages.
"""

import sys

from keras_mixkd._stderr import c_stderr_dropped
from keras_mixkd._stderr import wants_cpp_logs


def import_tensorflow():
    """Imports TensorFlow and lists its devices, without C++ log lines.

    Listing the physical devices initialises the CUDA platform, which logs
    ``failed call to cuInit`` on a machine without a GPU; done here, that
    line is dropped too. Does nothing special when TensorFlow is already
    imported or `wants_cpp_logs`.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules or wants_cpp_logs():
        import tensorflow as tf
        return tf
    with c_stderr_dropped():
        import tensorflow as tf
        tf.config.list_physical_devices()
    return tf
