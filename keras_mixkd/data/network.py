"""A fast answer to "can this machine download?", bounded in time.

Downloads from an offline machine otherwise retry DNS for minutes; the
loaders ask `online` first and fail at once with what to do instead.
"""

import socket
import threading

#: Hosts the dataset downloads come from (tfds's mirror, Keras's datasets).
HOSTS = (("storage.googleapis.com", 443),)


def online(hosts=HOSTS, timeout=5.0):
    """Whether a TCP connection to one of ``hosts`` opens within ``timeout``.

    The DNS lookup runs in a daemon thread, so a resolver that hangs costs
    ``timeout`` seconds at most.

    Args:
        hosts: ``(host, port)`` pairs to try.
        timeout: seconds to wait in all.

    Returns:
        True when a connection opened.
    """
    result = []

    def probe():
        for host, port in hosts:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError:
                continue
            result.append(True)
            return

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)
