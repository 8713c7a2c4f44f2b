"""metadata.yml, the lock and shaker.yml must be regular files of bounded size: decided from stat before
a byte is read, so a FIFO never blocks, /dev/zero or a sparse 2 GB file is never read into memory, and a
directory is a sentence, not an internal error. Real command line, a project serving a release."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hardkit import assert_unchanged, disk_state, release_app, served_release
from helpers.run import shaker

LOCK = "formula-requirements.txt"


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_dir(path: Path) -> None:
    path.mkdir()


def link_to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def sparse_2gb(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(2 * 1024**3)


CASES = {
    "metadata.yml a FIFO": ("metadata.yml", make_fifo, ["install"], 3, "metadata.yml in {root} is a named pipe (FIFO), not a regular file; replace it with the file itself."),
    "metadata.yml a directory": ("metadata.yml", make_dir, ["install"], 3, "metadata.yml in {root} is a directory, not a regular file; replace it with the file itself."),
    "metadata.yml -> /dev/zero": ("metadata.yml", link_to_dev_zero, ["install"], 3, "metadata.yml in {root} is a character device, not a regular file; replace it with the file itself."),
    "metadata.yml sparse 2 GB": (
        "metadata.yml", sparse_2gb, ["install"], 3,
        "metadata.yml is 2147483648 bytes, over the limit of 524288; shorten it or raise the 'max_manifest_bytes' setting.",
    ),
    "lock a FIFO": (LOCK, make_fifo, ["install-pinned-versions"], 3, f"{LOCK} in {{root}} is a named pipe (FIFO), not a regular file; replace it with the file itself."),
    "lock a directory": (LOCK, make_dir, ["install-pinned-versions"], 3, f"{LOCK} in {{root}} is a directory, not a regular file; replace it with the file itself."),
    "lock sparse 2 GB": (LOCK, sparse_2gb, ["install-pinned-versions"], 3, f"{LOCK} is 2147483648 bytes, over the limit of 67108864; restore the file salt-shaker wrote from version control."),
    "shaker.yml a FIFO": ("shaker.yml", make_fifo, ["install"], 2, "shaker.yml in {root} is a named pipe (FIFO), not a regular file; replace it with the file itself."),
    "shaker.yml a directory": ("shaker.yml", make_dir, ["status"], 2, "shaker.yml in {root} is a directory, not a regular file; replace it with the file itself."),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_a_user_file_that_is_not_a_regular_file_is_refused(published: Path, case_id: str) -> None:
    name, make, argv, code, message = CASES[case_id]
    release, lock = served_release(published), (published / LOCK).read_bytes()
    if name == LOCK:
        (published / LOCK).unlink()
    if name == "metadata.yml":
        (published / "metadata.yml").unlink()
    if name == "shaker.yml":
        (published / "shaker.yml").unlink()
    make(published / name)

    result = shaker(*argv, cwd=published, timeout=30)

    assert (result.code, result.out, result.err) == (code, "", f"salt-shaker: {message.format(root=published)}\n"), result
    assert served_release(published) == release
    if name != LOCK:
        assert (published / LOCK).read_bytes() == lock


def _file_at(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    path.write_text("in the way\n")


MISTAKES = {  # what a user put where salt-shaker needs something else: a sentence and exit 6, never an internal error (70)
    "root_dir a file": (lambda project: (project / "afile").write_text("x\n"), ["--root_dir", "afile", "install"], "afile"),
    "cache_dir a file": (lambda project: _file_at(project / "cache-file"), ["--cache-dir", "cache-file", "install"], "cache-file"),
    "vendor a file": (lambda project: _file_at(project / "vendor"), ["install"], "vendor"),
    "vendor/releases a file": (lambda project: _file_at(project / "vendor" / "releases"), ["install"], "releases"),
    "vendor/store a file": (lambda project: _file_at(project / "vendor" / "store"), ["install"], "store"),
}


@pytest.mark.parametrize("case_id", list(MISTAKES))
def test_a_path_of_the_wrong_type_is_a_sentence_not_an_internal_error(published: Path, small_forge, case_id: str) -> None:
    make, argv, named = MISTAKES[case_id]
    release_app(small_forge, "v1.1.0")  # so that install has work to do
    make(published)

    result = shaker(*argv, cwd=published, timeout=60)

    assert result.code == 6, result
    assert result.out == "" and "Traceback" not in result.err and len(result.err.splitlines()) == 1, result
    assert result.err.startswith("salt-shaker: Cannot use ") and named in result.err, result


def _app_mirror(cache: Path) -> Path:
    return next(p for p in cache.iterdir() if p.name.startswith("org-app-formula-") and p.name.endswith(".git"))


@pytest.mark.parametrize("command", ["install", "install-pinned-versions", "check"])
@pytest.mark.parametrize("kind", ["a symlink to another repository", "a file"])
def test_a_cached_mirror_that_is_not_a_directory_is_refused_and_never_followed(published: Path, small_forge, tmp_path: Path, kind: str, command: str) -> None:
    """A symlinked mirror was once followed: a fetch rewrote the refs of the repository it pointed at."""
    release_app(small_forge, "v1.1.0")
    mirror = _app_mirror(tmp_path / "cache")
    elsewhere = tmp_path / "someone-elses.git"
    shutil.move(str(mirror), elsewhere)
    if kind == "a file":
        mirror.write_text("not a repository\n")
    else:
        mirror.symlink_to(elsewhere)
    refs_before = _refs(elsewhere)
    before = disk_state(published)

    result = shaker(command, cwd=published, timeout=60)

    assert result.code == 6, result
    if kind == "a file":
        expected = f"The cached mirror {mirror} is not a directory; remove it and run again (salt-shaker fetches the mirror afresh)."
    else:
        expected = (f"The cached mirror {mirror} is a symlink; salt-shaker never follows one (a fetch would rewrite the repository it points at): "
                    "remove the link and run again.")
    assert (result.out, result.err) == ("", f"salt-shaker: {expected}\n"), result
    assert _refs(elsewhere) == refs_before
    assert_unchanged(before, disk_state(published), kind)


def _refs(repository: Path) -> dict[str, str]:
    listing = subprocess.run(["git", "--git-dir", str(repository), "show-ref"], capture_output=True, text=True, check=True).stdout
    return dict(reversed(line.split()) for line in listing.splitlines())


@pytest.mark.parametrize("target", ["/etc", "releases/../../../etc", "store/0123456789abcdef"])
@pytest.mark.parametrize("command", ["status", "install-pinned-versions", "install"])
def test_a_root_link_outside_the_releases_is_named_as_such(published: Path, target: str, command: str) -> None:
    root = published / "vendor" / "_root"
    root.unlink()
    root.symlink_to(target)
    before = disk_state(published)

    result = shaker(command, cwd=published, timeout=60)

    assert result.code == 6, result
    assert (result.out, result.err) == ("", f"salt-shaker: {root} points at {target}, outside {published}/vendor/releases; salt-shaker did not make that link: "
                                            "remove it, then run install-pinned-versions to serve the locked release.\n"), result
    assert os.readlink(root) == target
    assert_unchanged(before, disk_state(published), target)


def test_a_release_name_that_is_itself_a_link_elsewhere_is_no_release(published: Path) -> None:
    """The link text is releases/<id>, as salt-shaker writes it, but releases/<id> was replaced by a link to /etc: judged where it resolves."""
    root = published / "vendor" / "_root"
    release = published / "vendor" / "releases" / os.readlink(root).split("/")[-1]
    shutil.move(str(release), str(release) + ".moved")
    release.symlink_to("/etc")
    before = disk_state(published)

    result = shaker("status", cwd=published, timeout=60)

    assert result.code == 6, result
    assert result.err == (f"salt-shaker: {root} points at {os.readlink(root)}, which resolves to /etc, outside {published}/vendor/releases; "
                          "salt-shaker did not make that link: remove it, then run install-pinned-versions to serve the locked release.\n"), result
    assert_unchanged(before, disk_state(published), "release link")
