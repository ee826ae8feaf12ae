"""One command per ``result_dir``: an exclusive lock taken before anything is written.

``lock_result_dir(path)`` creates the folder when missing and takes an exclusive
``fcntl.flock`` on ``path/run.lock``, writing the holder's process id into it. The
lock belongs to the open file, so it lasts as long as the command or any process it
forked (the search) lives, and ends with them however they end, ``kill -9`` included.
The lock file itself stays: removing it would let two commands lock two different files.
"""

import fcntl
import os
from pathlib import Path

LOCK_NAME = "run.lock"


class ResultDirBusy(Exception):
    """Another command holds the lock of this result_dir."""


class ResultDirUnusable(Exception):
    """The result_dir is not a folder this command can write to."""


def lock_result_dir(result_dir) -> int:
    """Lock ``result_dir`` for this process (and its children); returns the lock's file descriptor.

    ``ResultDirBusy`` names the holder's process id; ``ResultDirUnusable`` says why the
    folder cannot be used (a regular file, not writable). A busy folder is not modified.
    """
    folder = Path(result_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
        descriptor = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except (FileExistsError, NotADirectoryError):
        raise ResultDirUnusable(f"result_dir {folder} is not a folder") from None
    except OSError as error:
        raise ResultDirUnusable(f"result_dir {folder} is not writable ({error.strerror})") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise ResultDirBusy(f"result_dir {folder} is in use by process {holder}") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor
