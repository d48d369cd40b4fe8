"""Quiet logs under a fault: a repeated warning or error is written once, then at most
once per period with the number of repeats left out since.

During a Redis outage every background loop pass and every refused sign-in fails the
same way; written each time, the same traceback filled disks at ~140 lines a second. A
repeat is a record of the same logger, level, message template (not its arguments: the
agent ids differ, the fault does not), exception type and source line. Records below
WARNING pass untouched. The time source is passed in (monotonic by default), so the
behaviour is tested without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: How often one kind of record is written at most, in seconds.
REPEAT_PERIOD = 10.0
#: Kinds of record remembered at most (the oldest forgotten first).
MAX_KINDS = 1024

Key = tuple[str, int, str, str, str, int]


@dataclass(slots=True)
class _Seen:
    written_at: float
    left_out: int = 0


class RepeatFilter(logging.Filter):
    """Lets the first record of a kind through, then one per ``period`` carrying
    ``repeated`` (records of that kind left out since the last one written), which is
    also appended to its message."""

    def __init__(self, now: Callable[[], float] = time.monotonic,
                 period: float = REPEAT_PERIOD, level: int = logging.WARNING) -> None:
        super().__init__()
        self._now = now
        self._period = period
        self._level = level
        self._seen: dict[Key, _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._level:
            return True
        key = _key(record)
        now = self._now()
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= MAX_KINDS:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = _Seen(now)
            return True
        if now - seen.written_at < self._period:
            seen.left_out += 1
            return False
        if seen.left_out:
            record.repeated = seen.left_out
            record.msg = (f"{record.msg} [repeated {seen.left_out} more times in the last "
                          f"{now - seen.written_at:.0f} s]")
        seen.written_at, seen.left_out = now, 0
        return True


def _key(record: logging.LogRecord) -> Key:
    exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
    return (record.name, record.levelno, str(record.msg), exc, record.pathname,
            record.lineno)
