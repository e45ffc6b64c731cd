"""Shared bits of the scenario workloads: process naming, deadlines, page size."""

import ctypes
import ctypes.util
import mmap
import os
import signal
import sys
import time

PAGE = mmap.PAGESIZE
MIB = 1024 * 1024


def set_name(name):
    """Set the kernel's comm (15 bytes max: what /proc/<pid>/stat shows) to NAME."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    PR_SET_NAME = 15
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def exit_on_term():
    """Exit quietly on SIGTERM/SIGINT (the scenario's teardown sends TERM)."""

    def bye(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)


def deadline(seconds):
    return time.monotonic() + seconds if seconds > 0 else float("inf")


def log(name, msg):
    sys.stderr.write("[{} {}] {}\n".format(time.strftime("%H:%M:%S"), name, msg))
    sys.stderr.flush()
