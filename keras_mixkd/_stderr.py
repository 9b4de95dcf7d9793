"""Dropping what C and C++ code write to stderr, keeping Python's messages.

TensorFlow and LiteRT write start-up lines (oneDNN, CUDA drivers, CPU
instructions, ``failed call to cuInit`` on a machine without a GPU, the
XNNPACK delegate) from C++ straight to file descriptor 2, where
``TF_CPP_MIN_LOG_LEVEL`` does not reach them. `c_stderr_dropped` points that
descriptor at a temporary file for a block and drops what C++ wrote there.
Python's own ``sys.stderr`` stays on the terminal all along, so warnings and
errors raised in Python still show.
"""

import contextlib
import os
import sys
import tempfile


def wants_cpp_logs():
    """Whether the user asked for TensorFlow's C++ logs.

    True when ``TF_CPP_MIN_LOG_LEVEL`` is set below 2 (0: all, 1: no INFO).
    """
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1")


@contextlib.contextmanager
def c_stderr_dropped():
    """Drops what C and C++ code write to descriptor 2 in this block.

    Python's ``sys.stderr`` is moved to a copy of the descriptor for the
    block, so Python messages still show. When the block raises, what C++
    wrote is printed after all: it may explain the error. Nothing is dropped
    when the user `wants_cpp_logs`.

    Example:

    ```python
    with c_stderr_dropped():
        interpreter.allocate_tensors()  # no "INFO: Created ... XNNPACK"
    ```
    """
    if wants_cpp_logs():
        yield
        return
    sys.stderr.flush()
    python_stderr = sys.stderr
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1,
                               encoding=python_stderr.encoding,
                               errors="backslashreplace")
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            capture.seek(0)
            os.write(saved, capture.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sys.stderr.close()
            sys.stderr = python_stderr
