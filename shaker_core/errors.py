"""The ShakerError tree: every user-facing failure, with one readable message.

Each class carries an ``exit_code`` for the command line; the Salt faces turn
any ShakerError into their own failure form. Messages never contain secrets:
URLs are redacted before they are put in a message.
"""
from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .reports import FailureReport

# Control characters and Unicode line/bidi controls: a message may quote bytes from an
# untrusted metadata.yml or lock line, and must not move a terminal's cursor, recolour
# it, reorder what it shows or start a forged log line; a lone surrogate (from a
# surrogate-escaped argument) could not even be printed.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNPRINTABLE_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``, ``\\u202e``)."""
    pattern = _UNPRINTABLE_BUT_NEWLINE if keep_newlines else _UNPRINTABLE
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


class ShakerError(Exception):
    """Base of every error salt-shaker reports to a user."""

    exit_code = 1
    kind = "error"
    multiline = False  # one sentence; only a conflict report spans lines

    def __init__(self, message: str, **data: Any) -> None:
        message = printable(message, keep_newlines=self.multiline)
        super().__init__(message)
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        """Plain data for reports, events and job returns (with the error's own data, like a conflict's causes, when it has any)."""
        return {"error": self.kind, "message": self.message, **({"data": dict(self.data)} if self.data else {})}

    def failure(self, command: str) -> FailureReport:
        """A failed run as plain data: what reports, deploy records, job returns and events carry."""
        report: FailureReport = {"command": command, "success": False, "retcode": self.exit_code, "error": self.kind, "message": self.message}
        if self.data:
            report["data"] = dict(self.data)
        return report


class UsageError(ShakerError):
    """A bad command line or setting."""

    exit_code = 2
    kind = "usage"


class ConfigError(UsageError):
    """A setting has a bad value."""

    kind = "config"


class ManifestError(ShakerError):
    """metadata.yml (or FORMULA) cannot be read."""

    exit_code = 3
    kind = "manifest"


class LockFileError(ShakerError):
    """formula-requirements.txt cannot be read or does not fit the project."""

    exit_code = 3
    kind = "lockfile"


class ResolutionError(ShakerError):
    """No consistent set of formula versions exists."""

    exit_code = 4
    kind = "resolution"


class ResolutionConflict(ResolutionError):
    """Constraints from different places cannot hold together."""

    kind = "conflict"
    multiline = True


class NoMatchingVersion(ResolutionError):
    """A constraint matches none of a formula's tags."""

    kind = "no-matching-version"


class LimitExceeded(ResolutionError):
    """A configured resource bound was hit."""

    kind = "limit"


class GitError(ShakerError):
    """A fetch, a missing ref or a broken mirror."""

    exit_code = 5
    kind = "git"


class LayoutError(ShakerError):
    """The formula root cannot be built or switched."""

    exit_code = 6
    kind = "layout"


_FILESYSTEM_MISTAKES = {
    errno.ENOTDIR: "a part of it is a file where salt-shaker needs a directory; move the file away or point root_dir or cache_dir elsewhere",
    errno.EISDIR: "it is a directory where salt-shaker needs a file; move it away",
    errno.EEXIST: "something of the wrong type is in the way; move it away",
    errno.EACCES: "permission is denied; run as a user who may write there, or point root_dir or cache_dir elsewhere",
    errno.EPERM: "the operation is not permitted; run as a user who may write there, or point root_dir or cache_dir elsewhere",
    errno.EROFS: "the file system is read-only; point root_dir or cache_dir at a writable place",
}


@contextmanager
def filesystem_mistakes() -> Iterator[None]:
    """Turn a file system error a user caused (a file where a directory belongs, no permission) into a LayoutError naming the path."""
    try:
        yield
    except OSError as exc:
        reason = _FILESYSTEM_MISTAKES.get(exc.errno or 0)
        if reason is None or not exc.filename:
            raise
        raise LayoutError(f"Cannot use {exc.filename}: {reason}.", path=str(exc.filename)) from None


class LockHeldError(LayoutError):
    """Another salt-shaker run holds the root's lock for too long."""

    kind = "busy"


class SuspendedError(ShakerError):
    """Syncing is suspended by an operator."""

    exit_code = 7
    kind = "suspended"


class TrustError(ShakerError):
    """A formula or project commit is not signed as the ``trust`` settings require."""

    exit_code = 8
    kind = "trust"
