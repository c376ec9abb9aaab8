"""Length-prefixed pickle messages over pipes, between executor, fork server and children."""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_HEADER = struct.Struct("<Q")


def send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = memoryview(_HEADER.pack(len(data)) + data)
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def _read_exact(fd: int, n: int) -> bytearray | None:
    """Exactly n bytes, read into one buffer allocated up front.

    However the writer's data arrives (in one piece or many, which depends on scheduling), the
    reader's heap ends up the same: an executor child's memory layout, and so the order of TVM's
    pointer-keyed maps and the blocks a case reaches, must not depend on timing.
    """
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            return None
        got += k
    view.release()
    return buf


def recv(fd: int) -> Any:
    """The next message; EOFError when the other side has gone."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        raise EOFError("peer closed the pipe")
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    if body is None:
        raise EOFError("peer closed the pipe mid-message")
    return pickle.loads(body)


class Decoder:
    """Splits a byte stream read in pieces into messages."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self.buf += data
        out = []
        while len(self.buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self.buf)
            if len(self.buf) < _HEADER.size + n:
                break
            out.append(pickle.loads(bytes(self.buf[_HEADER.size:_HEADER.size + n])))
            del self.buf[:_HEADER.size + n]
        return out
