"""formula-requirements.txt: exact text, byte-stable round trips, every malformed line, atomic writes."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaker_core import lockfile
from shaker_core.errors import LockFileError
from shaker_core.lockfile import HEADER, LockEntry, LockFile, make, parse, read, render, write
from shaker_core.sources import url_for

C1 = "0123456789abcdef0123456789abcdef01234567"
C2 = "89abcdef0123456789abcdef0123456789abcdef"
SOURCE = "https://git.example.com/org/b-formula.git"


def default_source(name: str) -> str:
    return url_for(name)  # git@github.com:{org}/{name}.git


def lock_error(text: str, path: str = lockfile.FILENAME) -> str:
    with pytest.raises(LockFileError) as caught:
        parse(text, path)
    return str(caught.value)


# --- exact text ---------------------------------------------------------------------------


def test_render_exact_text_sorted_with_header():
    lock = LockFile(entries=(
        LockEntry(name="org/c-formula", ref="v2.0.0", commit=C2, source=default_source("org/c-formula")),
        LockEntry(name="org/b-formula", ref="develop", commit=C2, source=SOURCE),
        LockEntry(name="org/a-formula", ref="v1.2.0", commit=C1),
        LockEntry(name="org/d-formula", ref="v1.0.0"),
        LockEntry(name="org/e-formula", ref="v1.0.0", commit=None, source=SOURCE),
    ))
    assert render(lock, default_source) == HEADER + (
        f"org/a-formula==v1.2.0 {C1}\n"
        f"org/b-formula==develop {C2} {SOURCE}\n"
        f"org/c-formula==v2.0.0 {C2}\n"
        "org/d-formula==v1.0.0\n"
        f"org/e-formula==v1.0.0 - {SOURCE}\n"
    )
    assert render(lock).endswith(f"org/c-formula==v2.0.0 {C2} git@github.com:org/c-formula.git\norg/d-formula==v1.0.0\n" + f"org/e-formula==v1.0.0 - {SOURCE}\n")


def test_header_text():
    assert HEADER == (
        "# formula-requirements.txt: the formula versions pinned for this project by salt-shaker.\n"
        "# Change metadata.yml and run `salt-shaker install` or `salt-shaker update` rather than editing this file.\n"
        "# <formula>==<tag or branch> <commit> [<source URL, when not the default>]\n"
    )
    assert render(LockFile()) == HEADER
    assert parse(HEADER) == LockFile()


def test_parse_reads_blank_lines_comments_old_and_legacy_lines():
    text = (
        HEADER
        + "\n"
        + "   \n"
        + f"org/b-formula==develop {C2.upper()} {SOURCE}   # tracking develop\n"
        + "  # an indented comment\n"
        + "org/a-formula==v1.0.0\n"
        + "git@github.com:legacy/old-formula.git==v1.0.0\n"
        + f"https://git.example.com/legacy/new-formula.git==v2.0.0 {C1}\n"
        + f"org/c-formula==v3 - {SOURCE}\n"
        + f"org/d-formula==v4 {C1}\r\n"
    )
    assert parse(text) == LockFile(entries=(
        LockEntry(name="legacy/new-formula", ref="v2.0.0", commit=C1, source="https://git.example.com/legacy/new-formula.git"),
        LockEntry(name="legacy/old-formula", ref="v1.0.0", commit=None, source="git@github.com:legacy/old-formula.git"),
        LockEntry(name="org/a-formula", ref="v1.0.0"),
        LockEntry(name="org/b-formula", ref="develop", commit=C2, source=SOURCE),
        LockEntry(name="org/c-formula", ref="v3", commit=None, source=SOURCE),
        LockEntry(name="org/d-formula", ref="v4", commit=C1),
    ))


def test_legacy_line_renders_in_the_new_shape():
    legacy = parse("git@github.com:org/name-formula.git==v1.0.0\n")
    assert render(legacy, default_source) == HEADER + "org/name-formula==v1.0.0\n"
    assert render(legacy) == HEADER + "org/name-formula==v1.0.0 - git@github.com:org/name-formula.git\n"


@pytest.mark.parametrize(("ref", "kind"), [("v1.0.0", "tag"), ("1.2", "tag"), ("v2.0.0-rc1", "tag"), ("develop", "branch"), ("release-1", "branch"), (C1, "rev")])
def test_entry_kind(ref, kind):
    assert LockEntry(name="org/a-formula", ref=ref).kind == kind


def test_lockfile_helpers():
    lock = make([LockEntry(name="org/b-formula", ref="v1"), LockEntry(name="org/a-formula", ref="v2")])
    assert [entry.name for entry in lock.entries] == ["org/a-formula", "org/b-formula"]
    assert lock.by_name()["org/b-formula"] == LockEntry(name="org/b-formula", ref="v1")
    assert lock and not LockFile()


# --- malformed lines ----------------------------------------------------------------------

PREFIX = HEADER + "\n" + f"org/ok-formula==v1.0.0 {C1}\n"  # the bad line comes on line 6
ERROR_LINE = 6


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("org/a-formula>=v1.0.0", " ('org/a-formula>=v1.0.0') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
        ("org/a-formula", " ('org/a-formula') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
        (f"org/a-formula {C1}", f" ('org/a-formula {C1}') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
        ("org/a-formula>==v1.0.0", " ('org/a-formula>==v1.0.0') uses a range; a lock pins each formula with exactly '=='."),
        ("org/a-formula!==v1.0.0", " ('org/a-formula!==v1.0.0') uses a range; a lock pins each formula with exactly '=='."),
        ("org/a-formula==>v1.0.0", " ('org/a-formula==>v1.0.0') uses a range; a lock pins each formula with exactly '=='."),
        ("org/a-formula===v1.0.0", " ('org/a-formula===v1.0.0') uses a range; a lock pins each formula with exactly '=='."),
        ("==v1.0.0", ": the formula name '' is empty."),
        ("orga-formula==v1.0.0", ": the formula name 'orga-formula' must be '<org>/<name>' with exactly one '/'."),
        ("org/..==v1.0.0", ": the formula name 'org/..' has '..' as a part, which cannot name a repository."),
        ("org/a-formula==", " has nothing after '=='; give the tag, branch or commit."),
        (f"org/a-formula== {C1}", " has nothing after '=='; give the tag, branch or commit."),
        ("org/a-formula==a..b", ": 'a..b' is neither a version tag, a branch nor a commit id."),
        ("org/a-formula==v1.0.0 abc", ": 'abc' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock."),
        (f"org/a-formula==v1.0.0 {C1}0", f": '{C1}0' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock."),
        (f"org/a-formula==v1.0.0 {C1} {SOURCE} extra", " has 4 fields; expected '<name>==<tag> <commit> [<source URL>]'."),
        (f"org/a-formula==v1.0.0 {C1} ftp://host/org/a.git", ": the source URL uses transport 'ftp'; use one of https, http, ssh, git, file."),
        (f"org/a-formula==v1.0.0 {C1} ext::sh", ": the source URL uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://."),
        (f"org/a-formula==v1.0.0 {C1} https://[host/org/a.git", ": the source URL is not a valid URL (Invalid IPv6 URL)."),
        ("https://host/a.git==v1.0.0", ": 'https://host/a.git' is not a usable git URL (no <org>/<name> in its path)."),
        ("https://[host/org/a.git==v1.0.0", ": 'https://[host/org/a.git' is not a usable git URL (is not a valid URL (Invalid IPv6 URL))."),
        (
            "https://u:s3cret@host/a.git==v1.0.0",
            ": 'https://u:***@host/a.git' is not a usable git URL (holds a password; put credentials in the 'credentials' setting, never in metadata.yml or the lock).",
        ),
        ("ftp://host/org/a.git==v1.0.0", ": 'ftp://host/org/a.git' is not a usable git URL (uses transport 'ftp'; use one of https, http, ssh, git, file)."),
    ],
)
def test_malformed_line(line, message):
    assert lock_error(PREFIX + line + "\n") == f"formula-requirements.txt line {ERROR_LINE}{message}"


def test_duplicate_entry_names_both_lines():
    text = PREFIX + "org/a-formula==v1.0.0\n# note\norg/ok-formula==v2.0.0\n"
    assert lock_error(text) == "formula-requirements.txt line 8 pins org/ok-formula again (first on line 5); keep one line per formula."


def test_duplicate_through_a_legacy_url():
    text = "org/a-formula==v1.0.0\ngit@github.com:org/a-formula.git==v1.0.0\n"
    assert lock_error(text, "custom.txt") == "custom.txt line 2 pins org/a-formula again (first on line 1); keep one line per formula."


def test_long_line_is_shortened_in_the_message():
    line = "org/" + "a" * 100 + ">=v1"
    assert lock_error(line) == f"formula-requirements.txt line 1 ('org/{'a' * 73}...') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."


# --- round trips --------------------------------------------------------------------------

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.builds(str.__add__, st.sampled_from(first), st.text(alphabet=rest, max_size=max_size))


PART = word(ALNUM + "_", ALNUM + "_.-", 12)
NAMES = st.builds("{}/{}".format, PART, PART)
NUMBERS = st.lists(st.integers(0, 999).map(str), min_size=1, max_size=3).map(".".join)
TAGS = st.builds(lambda v, number, rc: f"{v}{number}{rc}", st.sampled_from(["v", "V", ""]), NUMBERS, st.sampled_from(["", "-rc1", "-rc12"]))
BRANCHES = st.builds(lambda head, tail: head + tail, word(ALNUM, ALNUM + "_-", 8), st.sampled_from(["", "/x", "/feature-1"]))
COMMITS = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
SIGNERS = st.none() | st.text(alphabet="0123456789ABCDEF", min_size=40, max_size=40).map("openpgp:".__add__) | st.text(
    alphabet=ALNUM + "+/", min_size=43, max_size=43).map("ssh:SHA256:".__add__)
HOSTS = st.sampled_from(["git.example.com", "forge.test", "10.0.0.7"])
URL_SHAPES = st.sampled_from(["https://{host}/{name}.git", "git@{host}:{name}.git", "ssh://git@{host}:2222/{name}", "file:///srv/{name}.git"])


@st.composite
def entries(draw, default_sources: bool = False):
    name = draw(NAMES)
    ref = draw(st.one_of(TAGS, BRANCHES, COMMITS))
    commit = draw(st.none() | COMMITS)
    signer = draw(SIGNERS)
    if default_sources and draw(st.booleans()):
        return LockEntry(name=name, ref=ref, commit=commit, source=default_source(name), signer=signer)
    source = draw(st.none() | st.builds(lambda shape, host: shape.format(host=host, name=name), URL_SHAPES, HOSTS))
    return LockEntry(name=name, ref=ref, commit=commit, source=source, signer=signer)


def locks(default_sources: bool = False):
    return st.lists(entries(default_sources), max_size=8, unique_by=lambda entry: entry.name).map(make)


@settings(max_examples=100, deadline=None)
@given(locks(), st.booleans())
def test_round_trip_is_exact_and_byte_stable(lock, with_default):
    source_of = default_source if with_default else None
    text = render(lock, source_of)
    assert parse(text) == lock
    assert render(parse(text), source_of) == text


@settings(max_examples=100, deadline=None)
@given(locks(default_sources=True), st.randoms(use_true_random=False))
def test_default_sources_are_left_out_and_order_does_not_matter(lock, rng):
    text = render(lock, default_source)
    expected = make(LockEntry(name=e.name, ref=e.ref, commit=e.commit, source=None if e.source == default_source(e.name) else e.source, signer=e.signer)
                    for e in lock.entries)
    assert parse(text) == expected
    shuffled = list(lock.entries)
    rng.shuffle(shuffled)
    assert render(LockFile(entries=tuple(shuffled)), default_source) == text
    assert render(parse(text), default_source) == text


# --- signers ----------------------------------------------------------------------------

FPR = "85359EE39D9F1C83A55E24E6CE105345DC23CC39"
SSH_FPR = "SHA256:" + "A" * 42 + "/"


def test_a_signer_is_a_trailing_comment_on_the_line():
    lock = make([LockEntry(name="org/a-formula", ref="v1.2.0", commit=C1, signer=f"openpgp:{FPR}"),
                 LockEntry(name="org/b-formula", ref="v2.0.0", commit=C2, source=SOURCE, signer=f"ssh:{SSH_FPR}")])
    assert render(lock).splitlines()[len(HEADER.splitlines()):] == [
        f"org/a-formula==v1.2.0 {C1} # signed-by openpgp:{FPR}",
        f"org/b-formula==v2.0.0 {C2} {SOURCE} # signed-by ssh:{SSH_FPR}",
    ]
    assert parse(render(lock)) == lock


def test_a_reader_that_ignores_comments_reads_a_signed_line_as_the_same_pin():
    line = f"org/a-formula==v1.2.0 {C1} # signed-by openpgp:{FPR}"
    before_signers = line.split(" #")[0]  # what a reader that strips ' #...' comments sees
    assert parse(before_signers).entries[0] == LockEntry(name="org/a-formula", ref="v1.2.0", commit=C1)
    assert parse(line).entries[0].signer == f"openpgp:{FPR}"


@pytest.mark.parametrize("comment", ["# signed by openpgp:" + FPR, "# signed-by openpgp:" + FPR[:-1], "# signed-by gpg:" + FPR,
                                     "# signed-by openpgp:" + FPR.lower(), "# reviewed", "# signed-by openpgp:" + FPR + " extra"])
def test_any_other_comment_is_only_a_comment(comment):
    assert parse(f"org/a-formula==v1.2.0 {C1} {comment}\n").entries[0] == LockEntry(name="org/a-formula", ref="v1.2.0", commit=C1)


# --- files ------------------------------------------------------------------------------


def test_read_missing_file_is_empty(tmp_path):
    assert read(tmp_path / "formula-requirements.txt") == LockFile()


def test_read_not_utf8(tmp_path):
    path = tmp_path / "formula-requirements.txt"
    path.write_bytes(b"org/a-formula==v1\xff\n")
    with pytest.raises(LockFileError) as caught:
        read(path)
    assert str(caught.value) == "formula-requirements.txt is not valid UTF-8 (byte 0xff at offset 17); restore it from version control."


def test_read_names_the_file_in_errors(tmp_path):
    path = tmp_path / "pins.txt"
    path.write_text("\norg/a-formula>=v1\n")
    with pytest.raises(LockFileError) as caught:
        read(path)
    assert str(caught.value) == "pins.txt line 2 ('org/a-formula>=v1') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."


def test_write_is_atomic_and_skips_unchanged_bytes(tmp_path):
    path = tmp_path / "formula-requirements.txt"
    first = make([LockEntry(name="org/a-formula", ref="v1.0.0", commit=C1)])
    second = make([LockEntry(name="org/a-formula", ref="v2.0.0", commit=C2)])

    assert write(path, first) is True
    assert path.read_text() == render(first)
    assert read(path) == first
    assert os.stat(path).st_mode & 0o777 == 0o644
    inode, mtime = os.stat(path).st_ino, os.stat(path).st_mtime_ns

    assert write(path, first) is False  # same bytes: the file is not touched
    assert (os.stat(path).st_ino, os.stat(path).st_mtime_ns) == (inode, mtime)

    # A second name for the old file keeps the old bytes: the new ones went to a temp
    # file that was renamed over the path, never written into the old file in place.
    os.link(path, tmp_path / "old-link")
    assert write(path, second) is True
    assert path.read_text() == render(second)
    assert (tmp_path / "old-link").read_text() == render(first)
    assert os.stat(path).st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["formula-requirements.txt", "old-link"]  # no temp file left


def test_write_with_default_source_and_over_a_broken_file(tmp_path):
    path = tmp_path / "sub" / "formula-requirements.txt"
    lock = make([LockEntry(name="org/a-formula", ref="v1.0.0", commit=C1, source=default_source("org/a-formula"))])
    assert write(path, lock, default_source) is True  # creates the directory
    assert path.read_text() == HEADER + f"org/a-formula==v1.0.0 {C1}\n"
    assert write(path, lock, default_source) is False
    assert write(path, lock) is True  # without a default the source is written out
    path.write_bytes(b"\xff\xfe")
    assert write(path, lock) is True
    assert path.read_text() == render(lock)


@pytest.mark.parametrize("text", ["\ufefforg/a-formula==v1.0.0\n", "\ufeff# header\norg/a-formula==v1.0.0\n"])
def test_a_byte_order_mark_is_accepted(text: str) -> None:
    from shaker_core.lockfile import parse

    assert [entry.name for entry in parse(text).entries] == ["org/a-formula"]


def test_a_byte_order_mark_in_metadata_is_accepted() -> None:
    from shaker_core.manifest import parse_manifest

    assert [r.name for r in parse_manifest("\ufeffdependencies: [org/a-formula]\n".encode()).requirements] == ["org/a-formula"]
