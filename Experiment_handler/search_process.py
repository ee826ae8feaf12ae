"""The search's own process: forked by the command, and never outliving it.

``start_search(target, *args)`` forks a child that runs ``target(*args)`` in its own
process group (so the command can stop it and its workers as one). The child dies
with its parent, however the parent dies (``kill -9`` included), in two ways:

- Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills it when the parent exits;
- a pipe whose write end only the parent holds: a thread of the child waits on the read
  end and, at end-of-file (the parent is gone), kills the child's process group.

``stop_search(process)`` sends the group SIGTERM, then SIGKILL after a grace period.
"""

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time

#: Seconds a stopped search gets between SIGTERM and SIGKILL.
KILL_GRACE_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1


def _kill_at_parent_death() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_parent(read_end: int) -> None:
    """Kill this process group when the pipe from the parent reaches end-of-file."""
    while os.read(read_end, 1):
        pass
    os.killpg(0, signal.SIGKILL)


def _child_main(parent_pid: int, read_end: int, write_end: int, target, args) -> None:
    os.setpgrp()
    os.close(write_end)
    _kill_at_parent_death()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(read_end,), daemon=True, name="watch-parent").start()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    target(*args)


def start_search(target, *args) -> multiprocessing.Process:
    """Fork the search process running ``target(*args)``; it dies when this process dies."""
    read_end, write_end = os.pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_child_main, args=(os.getpid(), read_end, write_end, target, args), daemon=False
    )
    process.start()
    os.close(read_end)  # the write end stays open, unused, until this process exits
    return process


def stop_search(process: multiprocessing.Process) -> None:
    """SIGTERM the search's process group, then SIGKILL whatever is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        process.join(wait)
        if not process.is_alive():
            return


def wait_for_search(process: multiprocessing.Process, deadline: float) -> None:
    """Wait until the search ends or ``time.monotonic()`` reaches ``deadline`` (however far away)."""
    while process.is_alive() and (remaining := deadline - time.monotonic()) > 0:
        process.join(min(remaining, 60.0))
