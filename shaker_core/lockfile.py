"""formula-requirements.txt <-> LockFile.

One line per formula, sorted by name::

    org/a-formula==v1.2.0 0123456789abcdef0123456789abcdef01234567
    org/b-formula==develop 89abcdef0123456789abcdef0123456789abcdef https://git.example.com/org/b-formula.git

``<name>==<tag, branch or commit> <commit id> [<source URL when not the default>]``,
then, for a formula verified under ``trust``, a comment naming who signed it
(``# signed-by openpgp:<fingerprint>`` or ``# signed-by ssh:SHA256:...``), which
readers that know nothing of it skip as a comment. Old lines without a commit id and legacy ``git@github.com:org/name.git==v1.0`` lines
still read. The same resolution always renders to the same bytes.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .atomic import fsync_dir, write_atomic
from .errors import LockFileError
from .sources import check_name, check_url, looks_like_url, name_from_url, redact
from .userfiles import read_user_file
from .versions import RefKind, is_commit, is_valid_branch_name, parse_tag

MAX_LOCK_BYTES = 64 * 1024 * 1024  # a lock line is about 150 bytes: far more formulas than max_formulas allows

FILENAME = "formula-requirements.txt"
SIGNED_BY = "# signed-by "
_SIGNER_RE = re.compile(r"(?:openpgp:[0-9A-F]{40}|ssh:SHA256:[A-Za-z0-9+/]{43})")
HEADER = (
    "# formula-requirements.txt: the formula versions pinned for this project by salt-shaker.\n"
    "# Change metadata.yml and run `salt-shaker install` or `salt-shaker update` rather than editing this file.\n"
    "# <formula>==<tag or branch> <commit> [<source URL, when not the default>]\n"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockEntry:
    """One pinned formula."""

    name: str
    ref: str
    commit: str | None = None
    source: str | None = None
    signer: str | None = None  # who signed it, when trust verified it: openpgp:<fingerprint> or ssh:SHA256:...

    @property
    def kind(self) -> RefKind:
        """``rev``, ``tag`` or ``branch``, read from the shape of the ref."""
        if is_commit(self.ref):
            return "rev"
        return "tag" if parse_tag(self.ref) is not None else "branch"


@dataclass(frozen=True, kw_only=True, slots=True)
class LockFile:
    """Every pinned formula, keyed by name."""

    entries: tuple[LockEntry, ...] = ()

    def by_name(self) -> dict[str, LockEntry]:
        """The entries as a name -> entry mapping."""
        return {entry.name: entry for entry in self.entries}

    def __bool__(self) -> bool:
        return bool(self.entries)


def make(entries: Iterable[LockEntry]) -> LockFile:
    """A LockFile with entries sorted by name."""
    return LockFile(entries=tuple(sorted(entries, key=lambda entry: entry.name)))


def render(lock: LockFile, default_source: Callable[[str], str] | None = None) -> str:
    """The file text; a source equal to ``default_source(name)`` is left out."""
    lines = [HEADER]
    for entry in sorted(lock.entries, key=lambda e: e.name):
        fields = [f"{entry.name}=={entry.ref}"]
        if entry.commit:
            fields.append(entry.commit)
        if entry.source and (default_source is None or entry.source != default_source(entry.name)):
            fields.append(entry.source if entry.commit else f"- {entry.source}")
        if entry.signer:
            fields.append(SIGNED_BY + entry.signer)
        lines.append(" ".join(fields) + "\n")
    return "".join(lines)


def parse(text: str, path: str = FILENAME) -> LockFile:
    """Read lock text; any line that is not a pin is a LockFileError naming it."""
    entries: dict[str, tuple[int, LockEntry]] = {}
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some Windows editors write it
    for number, raw in enumerate(text.splitlines(), 1):
        content = _strip_comment(raw)
        if not content:
            continue
        entry = _parse_line(content, f"{path} line {number}", _signer_of(raw))
        if entry.name in entries:
            first = entries[entry.name][0]
            raise LockFileError(f"{path} line {number} pins {entry.name} again (first on line {first}); keep one line per formula.")
        entries[entry.name] = (number, entry)
    return make(entry for _, entry in entries.values())


def read(path: Path) -> LockFile:
    """Read a lock file; a missing file reads as an empty LockFile."""
    raw = read_user_file(path, MAX_LOCK_BYTES, LockFileError, None)
    if raw is None:
        return LockFile()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockFileError(f"{path.name} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); restore it from version control.") from None
    return parse(text, path.name)


def write(path: Path, lock: LockFile, default_source: Callable[[str], str] | None = None) -> bool:
    """Write the lock atomically; return whether the bytes changed."""
    text = render(lock, default_source)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_atomic(path, text)
    return True


def _staged_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.next")


def stage(path: Path, text: str) -> None:
    """Write the next lock beside the lock (atomically); :func:`commit_staged` makes it the lock."""
    write_atomic(_staged_path(path), text)


def commit_staged(path: Path) -> None:
    """Make the staged lock the lock with one rename."""
    os.replace(_staged_path(path), path)
    fsync_dir(path.parent)


def staged_text(path: Path) -> str | None:
    """The staged lock's text, or None when nothing is staged."""
    try:
        return _staged_path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def drop_staged(path: Path) -> None:
    """Forget a staged lock (its publish never switched)."""
    _staged_path(path).unlink(missing_ok=True)


def _strip_comment(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("#"):
        return ""
    for index, char in enumerate(stripped):
        if char == "#" and stripped[index - 1].isspace():
            return stripped[:index].strip()
    return stripped


def _signer_of(line: str) -> str | None:
    """The signer a ``# signed-by`` comment records; anything else in a comment is ignored, as it always was."""
    at = line.find(" " + SIGNED_BY)
    token = line[at + 1 + len(SIGNED_BY):].strip() if at >= 0 else ""
    return token if _SIGNER_RE.fullmatch(token) else None


def _parse_line(content: str, where: str, signer: str | None = None) -> LockEntry:
    fields = content.split()
    pin, rest = fields[0], fields[1:]
    if "==" not in pin:
        raise LockFileError(f"{where} ('{_short(redact(content))}') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='.")
    head, ref = pin.split("==", 1)
    if (head and head[-1] in "<>!~=") or (ref and ref[0] in "<>!~="):
        raise LockFileError(f"{where} ('{_short(redact(content))}') uses a range; a lock pins each formula with exactly '=='.")
    name, legacy_source = _name_and_source(head, where)
    _check_ref(ref, where)
    commit = _commit_field(rest, where)
    source = _source_field(rest, where) or legacy_source
    return LockEntry(name=name, ref=ref, commit=commit, source=source, signer=signer)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name_and_source(head: str, where: str) -> tuple[str, str | None]:
    if looks_like_url(head):
        reason = check_url(head)
        name = name_from_url(head) if reason is None else None
        if reason or name is None:
            raise LockFileError(f"{where}: '{_short(redact(head))}' is not a usable git URL ({reason or 'no <org>/<name> in its path'}).")
        return name, head
    reason = check_name(head)
    if reason:
        raise LockFileError(f"{where}: the formula name '{_short(head)}' {reason}.")
    return head, None


def _check_ref(ref: str, where: str) -> None:
    if not ref:
        raise LockFileError(f"{where} has nothing after '=='; give the tag, branch or commit.")
    if not (is_commit(ref) or parse_tag(ref) is not None or is_valid_branch_name(ref)):
        raise LockFileError(f"{where}: '{_short(ref)}' is neither a version tag, a branch nor a commit id.")


def _commit_field(rest: list[str], where: str) -> str | None:
    if not rest or rest[0] == "-":
        return None
    if not is_commit(rest[0]):
        raise LockFileError(f"{where}: '{_short(rest[0])}' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock.")
    return rest[0].lower()


def _source_field(rest: list[str], where: str) -> str | None:
    if len(rest) > 2:
        raise LockFileError(f"{where} has {len(rest) + 1} fields; expected '<name>==<tag> <commit> [<source URL>]'.")
    if len(rest) < 2:
        return None
    reason = check_url(rest[1])
    if reason:
        raise LockFileError(f"{where}: the source URL {reason}.")
    return rest[1]
