"""Hypothesis strategies for untrusted text, and the properties every reader must keep.

Used by test_fuzz.py (a bounded number of examples, in the normal suite) and by
fuzz_long.py (many more examples, run by hand). Properties:

- ``parse_manifest`` (metadata.yml), ``parse_requirement`` (one dependency string) and
  ``lockfile.parse`` (formula-requirements.txt) either return a valid model or raise
  their ShakerError, never another exception; a ShakerError's message is one line
  (or, for a conflict, lines) of printable text.
- A model they return is valid: names, sources, exports and constraints pass the
  same checks again, and writing it back reads back the same model.
- ``lockfile.render`` of any well-formed LockFile reads back (``lockfile.parse``) to
  the same LockFile, and renders again to the same bytes.
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import strategies as st

from shaker_core import lockfile
from shaker_core.errors import LockFileError, ManifestError, ShakerError
from shaker_core.lockfile import LockEntry, LockFile
from shaker_core.manifest import KNOWN_KEYS, MAPPING_KEYS, Manifest, Requirement, parse_manifest, parse_requirement
from shaker_core.sources import check_name, check_url, url_for
from shaker_core.versions import Constraint, is_commit, is_valid_branch_name, parse_constraint, parse_tag

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"
NASTY = " \t\n\r\x00\x1b\x7f\u2028\u202e'\"`$;|&<>=!~,#:/\\.*?[]{}@%-_+\xe9\U0001f600"
_EXPORT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_UNPRINTABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")  # newlines: counted apart

# -- pieces --

name_parts = st.one_of(
    st.text(alphabet=ALNUM + "_.-", min_size=1, max_size=12),
    st.sampled_from(["org", "a-formula", "..", ".", "-x", "_x", "a..b", "", "x" * 120, "a b", "a;id", "$(id)", "`id`", "ä"]),
    st.text(alphabet=ALNUM + NASTY, max_size=8),
)
names = st.builds(lambda parts, sep: sep.join(parts), st.lists(name_parts, min_size=1, max_size=3), st.sampled_from(["/", "/", "/", "//", "\\", " / "]))
numbers = st.lists(st.integers(0, 10**12).map(str), min_size=1, max_size=4).map(".".join)
tags = st.builds(lambda v, n, pre: f"{v}{n}{pre}", st.sampled_from(["v", "V", "", "vv"]), numbers,
                 st.sampled_from(["", "-rc1", "rc2", "-beta", ".post1", ".dev3", "+local", "-", "x"]))
branches = st.one_of(st.text(alphabet=ALNUM + "_./-", min_size=1, max_size=16),
                     st.sampled_from(["develop", "main", "release/2", "a..b", "x.lock", "feature/", "-dash", "@{u}", "HEAD"]))
commits = st.one_of(st.text(alphabet=HEX, min_size=40, max_size=40), st.text(alphabet=HEX + "g", min_size=38, max_size=42))
refs = st.one_of(tags, branches, commits, st.text(alphabet=ALNUM + NASTY, max_size=10))
operators = st.sampled_from(["==", "!=", ">=", "<=", ">", "<", "=>", "=<", "~=", "===", "=", "!", "<>", "", "=="])
clauses = st.builds(lambda op, space, ref: f"{op}{space}{ref}", operators, st.sampled_from(["", " ", "  "]), refs)
constraints = st.builds(lambda cs, sep: sep.join(cs), st.lists(clauses, max_size=3), st.sampled_from([",", ", ", " ,", ",,", " "]))
hosts = st.sampled_from(["git.example.com", "10.0.0.7", "[::1]", "[host", "h:99999", "h:22", "", "user:s3cret@host", "u@host"])
url_shapes = st.sampled_from([
    "https://{host}/{name}.git", "http://{host}/{name}", "ssh://git@{host}/{name}.git", "git://{host}/{name}",
    "git@{host}:{name}.git", "file:///srv/{name}.git", "file://{host}/{name}", "ext::sh -c {name}", "fd::{name}",
    "-u{name}", "--upload-pack={name}", "ftp://{host}/{name}", "{host}:{name}", "https://{host}", "https:///{name}",
])
urls = st.builds(lambda shape, host, name: shape.format(host=host, name=name), url_shapes, hosts, names)
dependency_strings = st.one_of(
    st.builds(lambda head, c: head + c, st.one_of(names, urls), constraints),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", " ", "\t"]), names, st.sampled_from(["", " ", "#x", "\n"])),
    st.text(alphabet=ALNUM + NASTY, max_size=40),
    st.text(max_size=30),
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    dependency_strings, refs, st.text(max_size=20),
)
mapping_entries = st.dictionaries(
    st.one_of(st.sampled_from([*MAPPING_KEYS, "tag", "url", ""]), st.text(max_size=6)),
    st.one_of(scalars, names, urls, constraints, st.lists(scalars, max_size=2)),
    max_size=5,
)
entries = st.one_of(dependency_strings, mapping_entries, scalars, st.lists(dependency_strings, max_size=2))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12)
documents = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "formula": st.one_of(names, scalars),
            "exports": st.one_of(st.lists(st.one_of(name_parts, scalars), max_size=4), scalars),
            "dependencies": st.one_of(st.lists(entries, max_size=8), scalars, mapping_entries),
            "overrides": st.one_of(st.lists(entries, max_size=3), scalars),
            "environments": st.one_of(st.dictionaries(st.one_of(name_parts, st.integers()), st.lists(entries, max_size=3), max_size=3), scalars),
            "name": st.one_of(name_parts, scalars),
            "version": scalars,
        },
    ),
    st.dictionaries(st.one_of(st.sampled_from(sorted(KNOWN_KEYS)), st.text(max_size=8)), yaml_values, max_size=5),
    yaml_values,
)


def dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=None)


structured_texts = documents.map(dump)
YAML_SNIPPETS = ["&a", "*a", "<<: *a", "!!python/object:os.system", "!!binary", "? ", "- ", ": ", "[", "]", "{", "}", "'", '"', "\\", "%YAML 1.1\n",
                 "---\n", "...\n", "\t", "\ufeff", "\x00", "#", "|", ">", "1.10", "0x1F", "~", "yes", "=>", "==v1.0", "org/a-formula"]


@st.composite
def mutated_texts(draw: Any) -> str:
    """A structured document with a few snippets or characters inserted, deleted or swapped."""
    text = draw(structured_texts)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "char"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_SNIPPETS)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 5)):]
        else:
            text = text[:at] + draw(st.characters()) + text[at:]
    return text


raw_texts = st.one_of(mutated_texts(), st.text(max_size=200), st.text(alphabet=ALNUM + NASTY, max_size=200))
raw_bytes = st.one_of(st.binary(max_size=200), structured_texts.map(lambda t: t.encode("utf-8")), raw_texts.map(lambda t: t.encode("utf-8", "surrogatepass")))

lock_lines = st.one_of(
    st.builds(lambda head, ref, rest: f"{head}=={ref}{rest}", st.one_of(names, urls), refs,
              st.builds(lambda fields: "".join(" " + f for f in fields), st.lists(st.one_of(commits, urls, st.just("-"), st.just("#c"), refs), max_size=3))),
    st.builds(lambda head, op, ref: f"{head}{op}{ref}", names, operators, refs),
    st.text(alphabet=ALNUM + NASTY, max_size=60),
    st.sampled_from(["", "#", "   # note", lockfile.HEADER.strip()]),
)
lock_texts = st.lists(lock_lines, max_size=8).map(lambda lines: "\n".join(lines) + "\n")

# -- well-formed lock files (for the round trip) --

GOOD_PART = st.builds(str.__add__, st.sampled_from(ALNUM + "_"), st.text(alphabet=ALNUM + "_.-", max_size=14)).filter(lambda p: p not in (".", ".."))
GOOD_NAMES = st.builds("{}/{}".format, GOOD_PART, GOOD_PART)
GOOD_TAGS = st.builds(lambda v, n, pre: f"{v}{n}{pre}", st.sampled_from(["v", "V", ""]), numbers, st.sampled_from(["", "-rc1", "rc12", ".post1", "-beta"]))
GOOD_BRANCHES = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(alphabet=ALNUM + "_./-", max_size=14)).filter(is_valid_branch_name)
GOOD_COMMITS = st.text(alphabet=HEX, min_size=40, max_size=40)
GOOD_URL_SHAPES = st.sampled_from(["https://{host}/{name}.git", "http://{host}:8080/x/{name}", "git@{host}:{name}.git", "{host}:{name}",
                                   "ssh://{user}{host}:2222/{name}", "git://{host}/{name}.git", "file:///srv/forge/{name}.git"])
GOOD_HOSTS = st.sampled_from(["git.example.com", "forge.test", "10.0.0.7", "[::1]"])


@st.composite
def good_entries(draw: Any, default_source: bool = False) -> LockEntry:
    name = draw(GOOD_NAMES)
    ref = draw(st.one_of(GOOD_TAGS, GOOD_BRANCHES, GOOD_COMMITS))
    commit = draw(st.none() | GOOD_COMMITS)
    if default_source and draw(st.booleans()):
        return LockEntry(name=name, ref=ref, commit=commit, source=url_for(name))
    host, user, shape = draw(GOOD_HOSTS), draw(st.sampled_from(["", "deploy@", "git@"])), draw(GOOD_URL_SHAPES)
    if "://" not in shape and host.startswith("["):
        host = "git.example.com"  # scp-like 'git@[::1]:org/x' reads as a '<transport>::' helper and is refused (safe side)
    source = draw(st.none() | st.just(shape.format(host=host, user=user, name=name)))
    return LockEntry(name=name, ref=ref, commit=commit, source=source)


good_locks = st.lists(good_entries(default_source=True), max_size=10, unique_by=lambda e: e.name).map(lockfile.make)

# -- the properties --


def printable_message(error: ShakerError, lines: int = 1) -> None:
    assert error.message and not _UNPRINTABLE.search(error.message), repr(error.message)
    assert error.message.count("\n") < lines, repr(error.message)


def valid_requirement(requirement: Requirement) -> None:
    assert check_name(requirement.name) is None, requirement
    assert requirement.source is None or check_url(requirement.source) is None, requirement
    kind = requirement.constraint.kind
    assert kind in ("any", "version", "branch", "rev"), requirement
    if kind == "rev":
        assert is_commit(requirement.constraint.target)
    if kind == "branch":
        assert is_valid_branch_name(requirement.constraint.target) and parse_tag(requirement.constraint.target) is None
    again = parse_constraint(str(requirement.constraint)) if str(requirement.constraint) else Constraint()
    assert again == requirement.constraint, requirement


def check_requirement(text: str) -> Requirement | None:
    """parse_requirement: a valid Requirement that reads back the same from its own text, or a ManifestError."""
    try:
        requirement = parse_requirement(text, "dependency 1")
    except ManifestError as error:
        printable_message(error)
        assert error.message.startswith("dependency 1 ("), error.message
        return None
    valid_requirement(requirement)
    again = parse_requirement(str(requirement))
    assert (again.name, again.constraint, again.source) == (requirement.name, requirement.constraint, requirement.source)
    return requirement


def check_manifest(data: str | bytes, root: bool = True) -> Manifest | None:
    """parse_manifest: a valid Manifest or a ManifestError naming the file, never another exception."""
    try:
        manifest = parse_manifest(data, "metadata.yml", root=root)
    except ManifestError as error:
        printable_message(error)
        assert error.message.startswith("metadata.yml"), error.message
        return None
    assert manifest.name is None or check_name(manifest.name) is None
    for warning in manifest.warnings:  # warnings go to logs, reports and events: no control characters either
        assert not _UNPRINTABLE.search(warning), repr(warning)
    for export in manifest.exports:
        assert _EXPORT_RE.match(export) and ".." not in export, export
    assert len(set(manifest.exports)) == len(manifest.exports)
    for requirement in (*manifest.requirements, *manifest.overrides, *(r for rs in manifest.environments.values() for r in rs)):
        valid_requirement(requirement)
    if not root:
        assert manifest.overrides == ()
    return manifest


def check_lock_text(text: str) -> LockFile | None:
    """lockfile.parse: a valid LockFile whose rendering reads back the same, or a LockFileError naming the file."""
    try:
        lock = lockfile.parse(text)
    except LockFileError as error:
        printable_message(error)
        assert error.message.startswith(lockfile.FILENAME), error.message
        return None
    names = [entry.name for entry in lock.entries]
    assert names == sorted(names) and len(set(names)) == len(names)
    for entry in lock.entries:
        assert check_name(entry.name) is None, entry
        assert is_commit(entry.ref) or parse_tag(entry.ref) is not None or is_valid_branch_name(entry.ref), entry
        assert entry.commit is None or (is_commit(entry.commit) and entry.commit == entry.commit.lower()), entry
        assert entry.source is None or check_url(entry.source) is None, entry
    assert lockfile.parse(lockfile.render(lock)) == lock
    return lock


def check_round_trip(lock: LockFile) -> None:
    """A lock that was written always reads back to the same model, and renders to the same bytes."""
    for default in (None, url_for):
        text = lockfile.render(lock, default)
        parsed = lockfile.parse(text)
        if default is None:
            assert parsed == lock
        else:
            assert parsed == lockfile.make(LockEntry(name=e.name, ref=e.ref, commit=e.commit, source=None if e.source == url_for(e.name) else e.source) for e in lock.entries)
        assert lockfile.render(parsed, default) == text
