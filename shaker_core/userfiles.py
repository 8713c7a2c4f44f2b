"""Read the files a user hands salt-shaker (metadata.yml, the lock, shaker.yml): regular files only, bounded.

A FIFO would block the run, a device (``/dev/zero``) or a sparse file would be
read into memory whole, and a directory would surface as an internal error:
each is decided from ``stat`` before a byte is read, and the read itself stops
one byte past the limit, so a file that grows meanwhile cannot slip past it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ShakerError

KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def read_user_file(path: Path, max_bytes: int, error: type[ShakerError], setting: str | None) -> bytes | None:
    """The bytes of ``path``; None when it does not exist. Not a regular file, or too big: ``error``."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise error(f"{path.name} in {path.absolute().parent} is {kind}, not a regular file; replace it with the file itself.")
    if info.st_size > max_bytes:
        raise error(_too_big(path, info.st_size, max_bytes, setting))
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(_too_big(path, len(data), max_bytes, setting))
    return data


def _too_big(path: Path, size: int, max_bytes: int, setting: str | None) -> str:
    what = f"shorten it or raise the '{setting}' setting" if setting else "restore the file salt-shaker wrote from version control"
    return f"{path.name} is {size} bytes, over the limit of {max_bytes}; {what}."
