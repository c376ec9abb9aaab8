"""A fork server's scratch folder: one folder per child for its temporary files and its stage file.

The folder is named after the server's pid (`tirfuzz-server-<pid, 7 digits>-*` in the system's temporary
folder), so a server starting later can tell the folders of servers no longer running (killed with their
campaign, or left by a child that made its folder while its server removed them) and remove them (`sweep`).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time

PREFIX = "tirfuzz-server-"
SWEEP_AFTER_S = 3600.0  # a folder untouched this long, of a pid not running: its server is gone


def make_scratch() -> str:
    """A new scratch folder for this process (a fork server), after sweeping dead servers' folders. Its name
    has one length for every pid, as a child's folder's has (`child_folder`)."""
    sweep()
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid():07d}-")


def folders_of(pid: int, tmp: str | None = None) -> list[str]:
    """The scratch folders of the server with this pid (one, or none if it was stopped before making it)."""
    return glob.glob(os.path.join(tmp or tempfile.gettempdir(), f"{PREFIX}{pid:07d}-*"))


def child_folder(scratch: str, pid: int) -> str:
    """A child's folder in `scratch`. One length for every pid (7 digits: Linux's largest), so the child's
    environment, and its heap, grow alike."""
    return os.path.join(scratch, f"{pid:07d}")


def sweep(tmp: str | None = None, min_age_s: float = SWEEP_AFTER_S) -> list[str]:
    """Remove the scratch folders of servers no longer running: their pid runs no process and the folder
    was not touched for `min_age_s` (a pid of another pid namespace sharing the folder may look dead; a
    running server's folder changes with every child). The folders removed."""
    removed = []
    now = time.time()
    for path in glob.glob(os.path.join(tmp or tempfile.gettempdir(), PREFIX + "*-*")):
        pid = os.path.basename(path)[len(PREFIX):].split("-", 1)[0]
        try:
            old = now - os.stat(path).st_mtime >= min_age_s
        except OSError:
            continue
        if pid.isdigit() and old and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.exists(path):
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
