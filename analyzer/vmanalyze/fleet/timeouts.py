"""Per-input time limits (``--timeout``), raised inside the worker analyzing the input."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["InputTimeout", "time_limit"]


class InputTimeout(BaseException):
    """One input took longer than ``--timeout`` (raised inside the worker analyzing it).

    Not an ``Exception``, like ``KeyboardInterrupt``: the code it interrupts (the engine
    records a rule that raises as an error and goes on) must not swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`InputTimeout` in this thread if the block takes more than ``seconds``.

    In a process's main thread (local workers) a ``SIGALRM`` timer interrupts the block,
    blocking system calls included. In another thread (a Dask worker runs tasks in a
    thread pool) a timer thread raises the exception asynchronously in this one: it lands
    at the block's next Python instruction, so it stops Python code, not one long call
    into C. ``None`` or 0: no limit.
    """
    if not seconds:
        yield
        return
    if threading.current_thread() is threading.main_thread():

        def on_alarm(signum: int, frame: Any) -> None:
            raise InputTimeout(f"timed out after {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    import ctypes

    target = threading.get_ident()
    lock = threading.Lock()
    running = [True]

    def fire() -> None:
        with lock:
            if running[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(InputTimeout)
                )

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            running[0] = False
        timer.cancel()
