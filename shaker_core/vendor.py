"""The vendor directory: build a release in staging, switch ``vendor/_root`` atomically, keep and clean releases.

On disk, under ``<root_dir>/vendor/``::

    .lock                   flock: one writer at a time (CLI, runner, state, reactor)
    cache/                  bare mirrors (default cache_dir)
    store/<commit>/         each formula commit exported once, shared by releases
    releases/<id>/          a release: one directory per export plus merged _<type>/ dirs (hard links)
    releases/<id>.json      what the release holds (never served)
    _root -> releases/<id>  the path the master serves, switched with one rename(2)

The layout plan (:mod:`shaker_core.layout`) is pure; this module does the I/O.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import posixpath
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from . import release_file
from .assemble import assemble
from .atomic import fsync_dir, make_temp_dir, write_atomic
from .containment import check_stored_tree
from .errors import LayoutError
from .layout import FormulaLayout, LayoutPlan, ReleaseInfo, formula_records
from .verify import TreeCheck, TreeDiff
from .writerlock import WriterLock

log = logging.getLogger(__name__)

# Write failures that are the machine's state, not a bug: reported as a LayoutError, never a traceback.
# (CPython ignores SIGXFSZ, so a file over RLIMIT_FSIZE fails its write with EFBIG instead of killing the process.)
DISK_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up", errno.EFBIG: "a file is over the file size limit (ulimit -f)"}
ROOT_LINK = "_root"
RELEASE_NAME = re.compile(r"[0-9a-f]{16}(\.[0-9]+)?")  # a release id, or a rebuilt <id>.<n>
PROJECT_LINK = "_project"
PROJECT_LINKS = "_projects"  # environments from branches: _projects/<saltenv> -> ../projects/<commit>

Exporter = Callable[[str, str, Path], Any]


@dataclass(frozen=True)
class Built:
    """The release directory a build left, and what differed from git in the one it replaced (None: nothing was replaced)."""

    path: Path
    repaired: TreeDiff | None


class Vendor:
    """The ``vendor/`` directory of one project: store, releases, ``_root`` and the writer lock."""

    def __init__(self, root_dir: Path, keep_releases: int = 3, saltenv: str | None = None) -> None:
        self.root_dir = Path(root_dir)
        self.path = self.root_dir / "vendor"
        self.store = self.path / "store"
        self.releases = self.path / "releases"
        self.saltenv = saltenv
        # one environment: vendor/_root -> releases/<id>; several: vendor/_root/<saltenv> -> ../releases/<id>
        self.root_link = self.path / ROOT_LINK / saltenv if saltenv else self.path / ROOT_LINK
        self.keep_releases = max(1, keep_releases)

    # -- the writer lock --

    def lock(self, timeout: float = 300.0, poll: float = 0.05) -> WriterLock:
        """An exclusive flock on ``vendor/.lock``, waiting up to ``timeout`` seconds."""
        return WriterLock(self.path / ".lock", timeout, poll)

    # -- reading --

    def current_id(self) -> str | None:
        """The id of the release ``_root`` points at, or None; a link salt-shaker did not make is an error naming its target."""
        try:
            target = os.readlink(self.root_link)
        except OSError:
            return None
        parts = posixpath.normpath(target).split("/")
        expected = ["..", "releases"] if self.saltenv else ["releases"]
        if parts[:-1] != expected or not RELEASE_NAME.fullmatch(parts[-1]):
            raise LayoutError(f"{self.root_link} points at {target}, outside {self.releases}; salt-shaker did not make that link: "
                              "remove it, then run install-pinned-versions to serve the locked release.")
        # judged where it resolves too, as the master will follow it: a release name that is itself a link elsewhere is no release
        resolved, inside = os.path.realpath(self.root_link), os.path.join(os.path.realpath(self.path), "releases", parts[-1])
        if os.path.lexists(self.releases / parts[-1]) and resolved != inside:
            raise LayoutError(f"{self.root_link} points at {target}, which resolves to {resolved}, outside {self.releases}; "
                              "salt-shaker did not make that link: remove it, then run install-pinned-versions to serve the locked release.")
        return parts[-1]

    def served_ids(self) -> set[str]:
        """Every release some ``_root`` link points at (all saltenvs)."""
        top = self.path / ROOT_LINK
        links = [top] if top.is_symlink() else list(top.iterdir()) if top.is_dir() else []
        return {Path(os.readlink(link)).name for link in links if link.is_symlink()}

    def release_info(self, release: str) -> ReleaseInfo | None:
        """The recorded content of a release, or None when it is not complete."""
        if not (self.releases / release).is_dir():
            return None
        try:
            data = json.loads((self.releases / f"{release}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return ReleaseInfo(**{k: v for k, v in data.items() if k in ReleaseInfo.__dataclass_fields__})

    def history(self) -> list[ReleaseInfo]:
        """Every complete release, newest first."""
        infos = [self.release_info(path.name) for path in self.releases.glob("*") if path.is_dir()]
        return sorted((i for i in infos if i), key=lambda i: i.created, reverse=True)

    # -- building --

    def build(self, plan: LayoutPlan, export: Exporter, lock_text: str, check: TreeCheck | None = None) -> Built:
        """Build the release of ``plan`` unless it already exists intact; return its directory.

        With ``check``, an existing release and every store entry it reuses are first
        compared with git: a damaged store entry is exported again from the mirror, and a
        damaged release is rebuilt beside it as ``<id>.<n>`` (a served directory cannot
        be replaced in place atomically; switching ``_root`` to the new one is).
        """
        damage = None
        for candidate in self._built_as(plan.release_id):
            if (info := self.release_info(candidate.name)) is None:
                continue  # a leftover without its record: rebuilt below
            found = check.release(candidate, info) if check else None
            if not found:
                return Built(candidate, None)
            damage = damage or found
        final = self._unused_name(plan.release_id) if damage else self.releases / plan.release_id
        self.releases.mkdir(parents=True, exist_ok=True)
        for formula in plan.formulas:
            self._ensure_stored(formula, export, check)
        staging = make_temp_dir(f".staging-{plan.release_id}-", self.path)
        try:
            os.chmod(staging, 0o755)  # mkdtemp makes it 0700: the master may read _root as another user
            assemble(staging, plan, self.store)
            info = _describe(staging, final.name, plan, lock_text)
            write_atomic(self.releases / f"{final.name}.json", json.dumps(asdict(info), indent=2, sort_keys=True) + "\n")
            shutil.rmtree(final, ignore_errors=True)
            os.rename(staging, final)
            fsync_dir(self.releases)
        except OSError as exc:
            if exc.errno in DISK_ERRORS:
                (self.releases / f"{final.name}.json").unlink(missing_ok=True)
                raise LayoutError(f"Building release {final.name} in {self.path} failed: {DISK_ERRORS[exc.errno]}; free space and run again (nothing was switched).") from None
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Built(final, damage)

    def _built_as(self, release: str) -> list[Path]:
        """The directories that hold release ``release`` (``<id>`` and rebuilt ``<id>.<n>``), the served one first."""
        found = [path for path in (self.releases / release, *self.releases.glob(f"{release}.*")) if path.is_dir()]
        return sorted(found, key=lambda path: (path.name != self.current_id(), path.name))

    def _unused_name(self, release: str) -> Path:
        generation = 1
        while (self.releases / f"{release}.{generation}").exists() or (self.releases / f"{release}.{generation}.json").exists():
            generation += 1
        return self.releases / f"{release}.{generation}"

    def _ensure_stored(self, formula: FormulaLayout, export: Exporter, check: TreeCheck | None = None) -> None:
        entry = self.store / formula.commit
        if entry.is_dir():
            damage = check.store_entry(formula.source, formula.commit, entry) if check else None
            if not damage:
                return
            log.warning("The stored export of %s %s differs from git (%s); exporting it again from the mirror.", formula.name, formula.ref, damage.summary())
            _discard(entry)
        self.store.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(f".tmp-{formula.commit}-", self.store)
        try:
            os.rmdir(staging)
            export(formula.source, formula.commit, staging)
            check_stored_tree(staging, f"{formula.name} {formula.ref}")
            os.rename(staging, entry)
        except OSError as exc:
            if exc.errno in DISK_ERRORS:
                raise LayoutError(
                    f"Exporting {formula.name} {formula.ref} into {self.store} failed: {DISK_ERRORS[exc.errno]}; free space and run again (nothing was switched)."
                ) from None
            if not entry.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- switching --

    def switch(self, release: str) -> str | None:
        """Point ``_root`` at ``releases/<release>`` with one rename; return the previous release id."""
        previous = self.current_id()
        self._claim_root_path()
        if self.saltenv:
            self.root_link.parent.mkdir(exist_ok=True)
            self._replace_link(self.root_link, posixpath.join("..", "releases", release))
        else:
            self._replace_link(self.root_link, posixpath.join("releases", release))
        return previous

    def restore(self, previous: str | None) -> None:
        """Undo a ``switch``: serve ``previous`` again, or nothing when there was none."""
        if previous is not None:
            self.switch(previous)
        elif self.root_link.is_symlink():
            self.root_link.unlink()
            fsync_dir(self.root_link.parent)

    def publish_project(self, commit: str, export: Callable[[Path], Any], saltenv: str | None = None) -> None:
        """Export the project repository at ``commit`` once and switch ``vendor/_project`` (or ``_projects/<saltenv>``) to it."""
        projects = self.path / "projects"
        target = projects / commit
        if not target.is_dir():
            projects.mkdir(parents=True, exist_ok=True)
            staging = make_temp_dir(f".tmp-{commit}-", projects)
            try:
                os.rmdir(staging)
                export(staging)
                os.rename(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        self.point_project(commit, saltenv)
        self._drop_old_projects()

    def point_project(self, commit: str, saltenv: str | None = None) -> None:
        """Switch ``vendor/_project`` (or ``_projects/<saltenv>``) to an exported project commit (kept under ``projects/``)."""
        if not (self.path / "projects" / commit).is_dir():
            return
        if saltenv is None:
            self._replace_link(self.path / PROJECT_LINK, posixpath.join("projects", commit))
            return
        (self.path / PROJECT_LINKS).mkdir(exist_ok=True)
        self._replace_link(self.path / PROJECT_LINKS / saltenv, posixpath.join("..", "projects", commit))

    def _drop_old_projects(self) -> None:
        """Keep the newest ``keep_releases`` project exports and every one a link points at."""
        linked = {Path(os.readlink(link)).name for link in self._project_links()}
        trees = sorted((p for p in (self.path / "projects").iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in trees[self.keep_releases:]:
            if old.name not in linked:
                shutil.rmtree(old, ignore_errors=True)

    def _project_links(self) -> list[Path]:
        links = [self.path / PROJECT_LINK]
        if (self.path / PROJECT_LINKS).is_dir():
            links += sorted((self.path / PROJECT_LINKS).iterdir())
        return [link for link in links if link.is_symlink()]

    def served_saltenvs(self) -> list[str]:
        """The saltenvs ``vendor/_root/`` serves (empty when ``_root`` is one link, or absent)."""
        top = self.path / ROOT_LINK
        if top.is_symlink() or not top.is_dir():
            return []
        return sorted(link.name for link in top.iterdir() if link.is_symlink())

    def remove_environment(self, saltenv: str) -> None:
        """Stop serving ``saltenv``: remove ``_root/<saltenv>`` and ``_projects/<saltenv>``; garbage collection takes its releases."""
        for link in (self.path / ROOT_LINK / saltenv, self.path / PROJECT_LINKS / saltenv):
            if link.is_symlink():
                link.unlink()
                fsync_dir(link.parent)

    def _replace_link(self, link: Path, target: str) -> None:
        temporary = self.path / f".root-{os.getpid()}-{time.monotonic_ns()}"
        os.symlink(target, temporary)
        os.replace(temporary, link)
        fsync_dir(self.path)

    def check_root_path(self) -> None:
        """Refuse a real file or a non-empty real directory at ``_root``; the link, nothing or an empty directory is fine."""
        parent = self.path / ROOT_LINK
        if self.saltenv and parent.is_symlink():
            raise LayoutError(f"{parent} serves one environment (a link to a release); with saltenvs it must be a directory of links: remove it and install each saltenv.")
        path = self.root_link
        if path.is_symlink() or not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return
        raise LayoutError(f"{path} is a real {'directory' if path.is_dir() else 'file'} with content, not the link salt-shaker manages; move it away and run again.")

    def _claim_root_path(self) -> None:
        self.check_root_path()
        if self.root_link.is_dir() and not self.root_link.is_symlink():
            self.root_link.rmdir()  # an empty directory (a master created its file_roots): replace it

    # -- cleaning --

    def discard_release(self, release: str) -> None:
        """Remove a release no saltenv serves (its record first, so it is never taken for complete)."""
        if release not in self.served_ids() and (self.releases / release).is_dir():
            (self.releases / f"{release}.json").unlink(missing_ok=True)
            _discard(self.releases / release)

    def collect_garbage(self) -> list[str]:
        """Keep the newest ``keep_releases`` releases and the current one; drop the rest and unused store entries."""
        history = self.history()
        keep = {info.release for info in history[: self.keep_releases]} | self.served_ids()
        removed = []
        for info in history:
            if info.release not in keep:
                shutil.rmtree(self.releases / info.release, ignore_errors=True)
                (self.releases / f"{info.release}.json").unlink(missing_ok=True)
                removed.append(info.release)
        self._drop_unused_store(keep)
        self._drop_leftovers()
        return removed

    def _drop_unused_store(self, keep: set[str]) -> None:
        used = {rec["commit"] for release in keep if (info := self.release_info(release)) for rec in info.formulas.values()}
        for entry in self.store.glob("*") if self.store.is_dir() else []:
            if entry.name not in used and not entry.name.startswith(".tmp-"):
                shutil.rmtree(entry, ignore_errors=True)

    def _drop_leftovers(self) -> None:
        """Remove staging directories and half-exported store entries left by a crash."""
        leftovers = list(self.path.glob(".staging-*")) + list(self.path.glob(".root-*"))
        leftovers += list(self.store.glob(".tmp-*")) if self.store.is_dir() else []
        for path in leftovers:
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
            else:
                shutil.rmtree(path, ignore_errors=True)
        for orphan in self.releases.glob("*.json") if self.releases.is_dir() else []:
            if not (self.releases / orphan.stem).is_dir():
                orphan.unlink(missing_ok=True)


def _describe(staging: Path, release: str, plan: LayoutPlan, lock_text: str) -> ReleaseInfo:
    """Write the release's ``_shaker/release.json`` into ``staging``; return the record ``releases/<id>.json`` keeps."""
    created, formulas = time.time(), formula_records(plan)
    description = release_file.describe(release, plan.context, formulas, created)
    (staging / release_file.RESERVED).mkdir(mode=0o755)
    (staging / release_file.PATH).write_text(release_file.render(description), encoding="utf-8")
    return ReleaseInfo(release=release, created=created, formulas=formulas, module_dirs=sorted(plan.module_dirs),
                       lock_text=lock_text, description=description)


def _discard(path: Path) -> None:
    """Move a directory out of the way with one rename, then remove it (a crash leaves only a leftover)."""
    aside = path.with_name(f".tmp-discarded-{path.name}-{time.monotonic_ns()}")
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)
