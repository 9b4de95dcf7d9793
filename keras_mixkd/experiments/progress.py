"""The overall progress of a long experiment: run k of N, the time elapsed
and the estimated time left.

`mixkd compare` and `mixkd study` print one line as each run starts. The
estimate is the mean duration of the runs this invocation finished, times
the runs left (this one included); before the first run finishes there is
none. Runs finished by an earlier invocation are not counted in N.

Example:

```python
progress = Progress(total=2)
with progress.step("kd, seed 0"):  # == run 1 of 2: kd, seed 0 (elapsed 0s)
    train()
with progress.step("kd, seed 1"):  # == run 2 of 2: ... about 41s left)
    train()
```
"""

import contextlib
import time


def format_duration(seconds):
    """A duration as ``"42s"``, ``"3m 05s"`` or ``"2h 07m"``.

    Args:
        seconds: a non-negative number of seconds.

    Returns:
        The duration, rounded to the second (to the minute from an hour).
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h {minutes % 60:02d}m"


class Progress:
    """Counts the runs of one invocation and estimates the time left.

    Args:
        total: the number of runs this invocation will run (N).
        log: called with each progress line.
        clock: the time in seconds (`time.monotonic`); the clock starts at
            construction, so the elapsed time includes work done before the
            first run (such as training the teacher).
    """

    def __init__(self, total, log=print, clock=time.monotonic):
        self.total, self.log, self.clock = int(total), log, clock
        self.started = clock()
        self.durations = []
        self.count = 0

    def estimate_left(self):
        """Seconds left for the runs not finished yet (the current one
        included), or None before any run has finished."""
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * (self.total - len(self.durations))

    def line(self, what):
        """The progress line of the next run (``what`` names it)."""
        elapsed = format_duration(self.clock() - self.started)
        left = self.estimate_left()
        estimate = ("" if left is None
                    else f", about {format_duration(left)} left")
        return (f"== run {self.count + 1} of {self.total}: {what} (elapsed "
                f"{elapsed}{estimate})")

    @contextlib.contextmanager
    def step(self, what):
        """Logs the line of the next run, then times the run: use it as
        ``with progress.step("kd, seed 0"): ...``. A run that raises is not
        counted as finished."""
        self.log(self.line(what))
        self.count += 1
        start = self.clock()
        yield
        self.durations.append(self.clock() - start)
