"""The stage an executor child is in, kept in a file of its own instead of sent: no wake-up of the server.

A case goes through a hundred stages or so, one per pass. A message per stage wakes the fork server, on
the other core, a hundred times a case (3 to 6 ms a case on a 2-core VM); only a few of them matter while
the child lives (a `run:` stage starts the kept child's run budget). The child writes every stage to a
file-backed page in its scratch folder (`StageSlot.write`), and sends only the stages that are not a
pass; when a child dies or is killed, the server reads the stage it was in from the file (`read_slot`).
The server clears the file before each request it sends (`clear_slot`): a child that dies before its
first stage of that request leaves nothing of the one before.

The page holds two slots and a byte naming the one written last: a stage is written to the other slot,
then that byte flips, so a child killed in the middle of a write leaves the stage before it, whole.
"""

from __future__ import annotations

import mmap
import os

SLOT_FILE = "stage"
SLOT_BYTES = 256  # per slot; a longer stage name is cut (pass names run to 60 characters)
PAGE = 1 + 2 * SLOT_BYTES


class StageSlot:
    """In a child: the stage it is in, written to `folder`/stage."""

    def __init__(self, folder: str):
        fd = os.open(os.path.join(folder, SLOT_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, PAGE)
            self.map = mmap.mmap(fd, PAGE)
        finally:
            os.close(fd)
        self.write("spawn", None)

    def write(self, stage: str, target: str | None) -> None:
        """The stage it is in from now on."""
        where = (target or "").encode("utf-8", "replace")[:SLOT_BYTES // 2]
        data = stage.encode("utf-8", "replace")[:SLOT_BYTES - 2 - len(where)] + b"\t" + where + b"\0"
        other = 1 - self.map[0] if self.map[0] in (0, 1) else 0
        start = 1 + other * SLOT_BYTES
        self.map[start:start + len(data)] = data
        self.map[0] = other


def read_slot(folder: str) -> tuple[str, str | None] | None:
    """The stage the child whose folder this is was in last; None when it wrote none."""
    try:
        with open(os.path.join(folder, SLOT_FILE), "rb") as f:
            page = f.read(PAGE)
    except OSError:
        return None
    if len(page) < PAGE or page[0] not in (0, 1):
        return None
    start = 1 + page[0] * SLOT_BYTES
    text = page[start:start + SLOT_BYTES].split(b"\0", 1)[0].decode("utf-8", "replace")
    if "\t" not in text:
        return None
    stage, target = text.split("\t", 1)
    return stage, target or None


def clear_slot(folder: str) -> None:
    """Before a request to the child whose folder this is: no stage of it yet (the child is waiting)."""
    try:
        fd = os.open(os.path.join(folder, SLOT_FILE), os.O_WRONLY)
    except OSError:
        return
    try:
        os.pwrite(fd, b"\0\0", 0)  # slot 0, named the last written, empty
    finally:
        os.close(fd)
