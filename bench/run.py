"""Benchmark salt-shaker on a generated forge, next to the git floors.

    python bench/run.py [--sizes 20,100,300] [--tags 5] [--runs 3] [--workdir DIR]

For each size N it generates a deterministic forge (bench/forge.py: N small
formulas with _modules/ on a 4-level dependency DAG, plus one big formula with
many files and a long history), then times, as separate processes:

- ``cold``: ``salt-shaker install`` with an empty cache and vendor/;
- ``warm``: ``salt-shaker install-pinned-versions`` with nothing changed, run
  with the forge renamed away (so any network access would fail);
- ``bump``: one new tag upstream, then ``salt-shaker update <that formula>``;
- ``check``: ``salt-shaker check``;
- floors: ``git clone --depth 1`` of every pinned repository, sequentially and
  8 at a time.

After each salt-shaker run it checks that ``vendor/_root`` holds exactly what
the lock pins (a fast wrong answer shows as FAIL). It prints the median wall
time, CPU time and peak memory over ``--runs`` runs, and each salt-shaker
figure as a ratio to the floors.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import forge as forge_module  # noqa: E402

SHAKER = [sys.executable, "-m", "shaker_core.cli"]


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    ok: bool = True


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run a command as a child process; wall time, CPU time and peak RSS of it (and its children)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def timed_parallel(commands: list[list[str]], jobs: int) -> Sample:
    """Run commands ``jobs`` at a time; wall time of the whole batch, summed CPU, max RSS."""
    before = os.times()
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda c: subprocess.run(c, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), commands))
    after = os.times()
    import resource

    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Sample(time.perf_counter() - started, (after.children_user - before.children_user) + (after.children_system - before.children_system), rss)


def verify(project: Path) -> bool:
    """Whether vendor/_root holds exactly the init.sls of each pinned commit."""
    import pygit2

    root = project / "vendor" / "_root"
    for line in (project / "formula-requirements.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        pin, commit = line.split()[:2]
        name = pin.split("==")[0]
        repo_name = name.split("/")[1]
        export = repo_name[: -len("-formula")]
        mirror = next((project / "vendor" / "cache").glob(f"{name.replace('/', '-')}-*.git"), None)
        if mirror is None:
            return False
        repo = pygit2.Repository(str(mirror))
        expected = repo[commit].peel(pygit2.Tree)[f"{export}/init.sls"]
        served = root / export / "init.sls"
        if not served.is_file() or served.read_bytes() != repo[expected.id].data:
            return False
    return True


def add_tag(bare: Path, tag: str) -> None:
    """One new commit and annotated tag on main, as a maintainer would push."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["git", "clone", "-q", str(bare), work], check=True)
        (Path(work) / "BUMP").write_text(tag)
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
        for args in (["add", "BUMP"], ["commit", "-qm", tag], ["tag", "-a", tag, "-m", tag], ["push", "-q", "origin", "main", tag]):
            subprocess.run(["git", *args], cwd=work, check=True, env=env)


def measure_size(size: int, tags: int, runs: int, workdir: Path) -> dict[str, Sample]:
    forge = forge_module.generate(workdir / f"forge-{size}", size, tags)
    project = workdir / f"project-{size}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "metadata.yml").write_text(forge_module.project_metadata(forge))
    (project / "shaker.yml").write_text(f"source_template: {forge.template}\n")
    root_args = ["--root_dir", str(project)]
    results: dict[str, list[Sample]] = {name: [] for name in ("cold", "warm", "bump", "check", "clone-seq", "clone-8")}
    for run in range(runs):
        shutil.rmtree(project / "vendor", ignore_errors=True)
        (project / "formula-requirements.txt").unlink(missing_ok=True)
        sample = timed([*SHAKER, "install", *root_args])
        sample.ok = verify(project)
        results["cold"].append(sample)
        hidden = forge.root.with_name(forge.root.name + ".away")
        forge.root.rename(hidden)
        try:
            sample = timed([*SHAKER, "install-pinned-versions", *root_args])
            sample.ok = verify(project)
            results["warm"].append(sample)
        finally:
            hidden.rename(forge.root)
        bumped = forge.names[(run * 7) % (len(forge.names) - 1)]
        add_tag(forge.root / f"{bumped}.git", f"v9.{run}.{int(time.time())}")
        sample = timed([*SHAKER, "update", bumped, *root_args])
        sample.ok = verify(project) and f"{bumped}==v9.{run}." in (project / "formula-requirements.txt").read_text()
        results["bump"].append(sample)
        results["check"].append(timed([*SHAKER, "check", *root_args]))
        urls = [f"file://{forge.root}/{name}.git" for name in forge.names]
        with tempfile.TemporaryDirectory(dir=workdir) as clones:
            commands = [["git", "clone", "-q", "--depth", "1", url, f"{clones}/seq{i}"] for i, url in enumerate(urls)]
            results["clone-seq"].append(timed_parallel(commands, 1))
            commands = [["git", "clone", "-q", "--depth", "1", url, f"{clones}/par{i}"] for i, url in enumerate(urls)]
            results["clone-8"].append(timed_parallel(commands, 8))
    return {name: _median(samples) for name, samples in results.items()}


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        max(s.rss_mb for s in samples),
        all(s.ok for s in samples),
    )


def report(size: int, figures: dict[str, Sample]) -> None:
    print(f"\nN={size} formulas (+1 big), {os.cpu_count()} cores")
    print(f"{'run':<10} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}  verified  ratio to clone-8  ratio to clone-seq")
    for name, sample in figures.items():
        ratio8 = sample.wall / figures["clone-8"].wall
        ratio_seq = sample.wall / figures["clone-seq"].wall
        ok = "yes" if sample.ok else "FAIL"
        print(f"{name:<10} {sample.wall:>8.3f} {sample.cpu:>8.3f} {sample.rss_mb:>8.1f}  {ok:>8}  {ratio8:>15.2f}  {ratio_seq:>18.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,100,300", help="comma-separated formula counts (add 1000 for the large run)")
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where forges and projects go (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shaker-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        report(size, measure_size(size, args.tags, args.runs, workdir.resolve()))


if __name__ == "__main__":
    main()
