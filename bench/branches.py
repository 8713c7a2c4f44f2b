"""Benchmark environments from branches: 30 branches of one project repository over a forge of 100 formulas.

    python bench/branches.py [--branches 30] [--formulas 100] [--differ 3] [--rounds 5] [--workdir DIR]

Most branches pin the same versions; ``--differ`` of them hold one formula on
an older tag. It times, as separate processes:

- ``single-cold``: ``salt-shaker install`` of one project (empty cache);
- ``single-bump``: one new tag upstream, then ``salt-shaker update <formula>``;
- ``sync-cold``: ``salt-shaker sync`` of every branch, empty cache and vendor/;
- ``sync-warm``: ``salt-shaker sync`` again, nothing changed;
- ``sync-push``: one branch's lock moves one formula to a new tag, then
  ``salt-shaker sync <that branch>``;
- with r10k installed (Debian package ``r10k``), the same three on a control
  repository whose branches hold Puppetfiles of the same pins:
  ``r10k deploy environment --modules`` (cold, warm) and
  ``r10k deploy environment <branch> --modules`` (push).

The bump and push cases run ``--rounds`` times (default 5), interleaved, each
round with a new tag; the table gives medians and the ratios are medians of the
per-round ratios. It checks every saltenv serves what its branch pins, prints the table, the
ratios the feature is judged by, and the disk used by ``vendor/`` against 30
separate single-project checkouts.
"""
from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import forge as forge_module  # noqa: E402
from run import R10K, SHAKER, Sample, add_tag, export_of, pins, timed  # noqa: E402

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=GIT_ENV).stdout.strip()


def lock_lines(locked: dict[str, tuple[str, str]]) -> str:
    return "".join(f"{name}=={tag} {commit}\n" for name, (tag, commit) in sorted(locked.items()))


def older_pin(forge: forge_module.Forge, name: str, locked: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """The tag before the locked one of ``name``, and its commit."""
    bare = forge.root / f"{name}.git"
    tags = sorted(git("tag", cwd=bare).split(), key=lambda tag: [int(part) for part in tag.lstrip("v").split(".")])
    older = tags[max(0, tags.index(locked[name][0]) - 1)]
    return older, git("rev-parse", f"{older}^{{commit}}", cwd=bare)


def control_repository(path: Path, branches: dict[str, dict[str, str]]) -> None:
    """A bare repository with one branch per entry, each holding the given files."""
    work = path.with_suffix(".work")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    git("init", "-q", "-b", "main", str(work), cwd=path.parent)
    for branch, files in branches.items():
        if branch != "main":
            git("checkout", "-q", "-B", branch, "main", cwd=work)
        for rel, text in files.items():
            (work / rel).write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "--allow-empty", "-m", branch, cwd=work)
    git("clone", "-q", "--bare", str(work), str(path), cwd=path.parent)
    git("remote", "add", "origin", str(path), cwd=work)


def commit_to_branch(control: Path, branch: str, files: dict[str, str]) -> None:
    work = control.with_suffix(".work")
    git("checkout", "-q", branch, cwd=work)
    for rel, text in files.items():
        (work / rel).write_text(text)
    git("commit", "-qam", f"move {branch}", cwd=work)
    git("push", "-q", "origin", branch, cwd=work)


def puppetfile(forge: forge_module.Forge, locked: dict[str, tuple[str, str]]) -> str:
    return "".join(f"mod '{export_of(name)}', :git => 'file://{forge.root}/{name}.git', :tag => '{tag}'\n" for name, (tag, _) in sorted(locked.items()))


def disk_kb(path: Path) -> int:
    """Blocks used under ``path``, each hard-linked file once (du)."""
    return int(subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True).stdout.split()[0])


def served_matches(root: Path, saltenv: str, locked: dict[str, tuple[str, str]]) -> bool:
    import json

    release = os.path.basename(os.readlink(root / "vendor" / "_root" / saltenv))
    info = json.loads((root / "vendor" / "releases" / f"{release}.json").read_text())
    return {name: (rec["ref"], rec["commit"]) for name, rec in info["formulas"].items()} == locked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=30)
    parser.add_argument("--formulas", type=int, default=100)
    parser.add_argument("--differ", type=int, default=3, help="branches that hold one formula on an older tag")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the bump and push cases (medians are reported)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    # pip compiles bytecode when it installs a package; an editable checkout (or PYTHONDONTWRITEBYTECODE)
    # would otherwise compile salt-shaker at every start and time the compiler, not salt-shaker
    compileall.compile_dir(str(HERE.parent / "shaker_core"), quiet=1)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="shaker-branches-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    forge = forge_module.generate(workdir / f"forge-{args.formulas}", args.formulas)
    results: dict[str, Sample] = {}
    rounds: dict[str, list[Sample]] = {}

    single = workdir / "single"
    shutil.rmtree(single, ignore_errors=True)
    single.mkdir()
    metadata = forge_module.project_metadata(forge)
    (single / "metadata.yml").write_text(metadata)
    (single / "shaker.yml").write_text(f"source_template: {forge.template}\n")
    results["single-cold"] = timed([*SHAKER, "--root_dir", str(single), "install"])
    locked = pins(single)

    names = ["main"] + [f"env_{i:02d}" for i in range(1, args.branches)]
    differing = names[1:1 + args.differ]
    held = sorted(locked)[0]
    branch_locks = {name: dict(locked) for name in names}
    for name in differing:
        branch_locks[name][held] = older_pin(forge, held, locked)
    control = workdir / "control.git"
    control_repository(control, {name: {"metadata.yml": metadata, "formula-requirements.txt": lock_lines(branch_locks[name]),
                                        "Puppetfile": puppetfile(forge, branch_locks[name])} for name in names})

    project = workdir / "branches"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    (project / "shaker.yml").write_text(f"source_template: {forge.template}\nproject:\n  source: file://{control}\n  branches: ['env_*']\n  base: main\n")
    sync = [*SHAKER, "--root_dir", str(project), "sync"]
    results["sync-cold"] = timed(sync)
    results["sync-warm"] = timed(sync)
    ok = all(served_matches(project, "base" if name == "main" else name, branch_locks[name]) for name in names)

    r10k = workdir / "r10k"
    if R10K:
        shutil.rmtree(r10k, ignore_errors=True)
        r10k.mkdir()
        (r10k / "r10k.yaml").write_text(f"cachedir: {r10k / 'cache'}\nsources:\n  control:\n    remote: file://{control}\n    basedir: {r10k / 'environments'}\n")
        deploy = [R10K, "deploy", "environment", "--modules", "--config", str(r10k / "r10k.yaml")]
        home = {**os.environ, "HOME": str(r10k)}
        results["r10k-cold"] = timed(deploy, env=home)
        results["r10k-warm"] = timed(deploy, env=home)

    # rounds of: one new tag of one formula, then the single project's update, one branch's lock moved to it
    # and synced, and r10k's deploy of that branch; medians (and the median of per-round ratios) are reported
    bumped = sorted(locked)[1]
    branch = names[-1]
    for number in range(9, 9 + args.rounds):
        tag = f"v{number}.0.0"
        add_tag(forge.root / f"{bumped}.git", tag)
        rounds.setdefault("single-bump", []).append(timed([*SHAKER, "--root_dir", str(single), "update", bumped]))
        branch_locks[branch][bumped] = (tag, git("rev-parse", f"{tag}^{{commit}}", cwd=forge.root / f"{bumped}.git"))
        commit_to_branch(control, branch, {"formula-requirements.txt": lock_lines(branch_locks[branch]), "Puppetfile": puppetfile(forge, branch_locks[branch])})
        rounds.setdefault("sync-push", []).append(timed([*sync, branch]))
        ok = ok and served_matches(project, branch, branch_locks[branch])
        if R10K:
            rounds.setdefault("r10k-push", []).append(timed([R10K, "deploy", "environment", branch, "--modules", "--config", str(r10k / "r10k.yaml")], env=home))
    results.update({name: median_sample(samples) for name, samples in rounds.items()})

    report(results, rounds, args, ok, single, project, r10k if R10K else None)


def median_sample(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples), max(s.rss_mb for s in samples))


def per_round(rounds: dict[str, list[Sample]], top: str, bottom: str) -> float:
    """The median of the per-round ratios top/bottom (each round measured side by side)."""
    return statistics.median(a.wall / b.wall for a, b in zip(rounds[top], rounds[bottom], strict=True))


def report(results: dict[str, Sample], rounds: dict[str, list[Sample]], args: argparse.Namespace, ok: bool,
           single: Path, project: Path, r10k: Path | None) -> None:
    print(f"{args.branches} branches ({args.differ} differing) over {args.formulas + 1} formulas; every saltenv serves its branch's pins: {'yes' if ok else 'FAIL'}")
    print(f"{'run':<14}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}   (bump and push cases: median of {args.rounds} interleaved rounds)")
    for name, sample in results.items():
        print(f"{name:<14}{sample.wall:>8.2f}{sample.cpu:>8.2f}{sample.rss_mb:>9.1f}")
    ratios = [
        ("sync-cold / single-cold (target <= 3)", results["sync-cold"].wall / results["single-cold"].wall),
        ("sync-push / single-bump (target <= 1.5)", per_round(rounds, "sync-push", "single-bump")),
    ]
    if "r10k-warm" in results:
        ratios += [("r10k-cold / sync-cold", results["r10k-cold"].wall / results["sync-cold"].wall),
                   ("r10k-warm / sync-warm (target >= 10)", results["r10k-warm"].wall / results["sync-warm"].wall),
                   ("r10k-push / sync-push (target >= 10)", per_round(rounds, "r10k-push", "sync-push"))]
    for label, value in ratios:
        print(f"{label:<42}{value:>7.2f}")
    print(f"sync-warm (target < 1 s){'':<17}{results['sync-warm'].wall:>7.2f}")
    vendor, one = disk_kb(project / "vendor"), disk_kb(single / "vendor")
    print(f"disk: vendor/ of {args.branches} environments {vendor / 1024:.1f} MB; {args.branches} separate projects {args.branches * one / 1024:.1f} MB"
          + (f"; r10k environments {disk_kb(r10k) / 1024:.1f} MB" if r10k else ""))


if __name__ == "__main__":
    main()
