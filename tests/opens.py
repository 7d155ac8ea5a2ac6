"""Which files of a folder were opened, by anyone: Linux inotify through ctypes.

The kernel reports every open of a file in the watched folder (IN_OPEN), whichever process
made it (ffprobe, ffmpeg, a Python child), so a test can prove a file was never opened.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

IN_OPEN = 0x00000020
IN_ACCESS = 0x00000001
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class OpenWatch:
    def __init__(self, folder: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self._libc.inotify_add_watch(self._fd, bytes(folder), IN_OPEN | IN_ACCESS) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self.opened: list[str] = []

    def read(self) -> list[str]:
        """Names opened or read since the last call (also kept in `opened`)."""
        names = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                _, _, _, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size
                names.append(data[offset : offset + length].rstrip(b"\0").decode())
                offset += length
        self.opened += names
        return names

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> OpenWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.read()
        self.close()
