"""Benchmark salt-shaker on a generated forge, next to the git floors.

    python bench/run.py [--sizes 20,100,300] [--tags 5] [--runs 3] [--forges plain,backtrack] [--workdir DIR] [--no-peers]

For each forge kind and size N it generates a deterministic forge (bench/forge.py:
N small formulas with _modules/ on a 4-level dependency DAG, plus one big
formula with many files and a long history; ``backtrack`` also holds about one
formula in seven below its newest tag and makes the resolver go back), then
times, as separate processes, in ``--runs`` interleaved rounds:

- ``cold``: ``salt-shaker install`` with an empty cache and vendor/;
- ``warm``: ``salt-shaker install-pinned-versions`` with nothing changed, run
  with the forge renamed away (so any network access would fail); it and
  ``status`` take a fraction of a second, so each round runs them 5 times in
  a row and keeps the median;
- ``bump``: one new tag upstream, then ``salt-shaker update <that formula>``;
- ``check``: ``salt-shaker check``;
- floors: ``git clone --depth 1`` of every repository, sequentially and 8 at a
  time, and ``git ls-remote`` of every repository 8 at a time;
- peers on the same forge and the same pins, each only when installed:
  r10k ``puppetfile install`` (Debian package ``r10k``) cold and warm, and
  ansible-galaxy ``role install`` (``pip install ansible-core``) cold and warm;
- the runner: ``salt-run shaker.install_pinned`` with nothing changed
  (``--salt``; needs salt in this Python).

After each salt-shaker run it checks that ``vendor/_root`` holds exactly what
the lock pins (a fast wrong answer shows as FAIL). It prints the median wall
time, CPU time and peak memory over ``--runs`` runs, and each salt-shaker
figure as the median of its per-round ratios to the floors and peers.
"""
from __future__ import annotations

import argparse
import compileall
import dataclasses
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
sys.path.insert(0, str(HERE.parent / "tests"))

import forge as forge_module  # noqa: E402
from helpers.http_git import GitHttpServer  # noqa: E402  (the test suite's smart-HTTP server, reused)

PEERS_LEFT_OUT = False
SHORT_RUN_REPEATS = 5  # warm and status, each round (see timed_repeated)
WARM_LIMIT_S = 0.5
SHAKER = [sys.executable, "-m", "shaker_core.cli"]
R10K = shutil.which("r10k")
GALAXY = shutil.which("ansible-galaxy") or next((str(p) for p in [Path(sys.executable).with_name("ansible-galaxy")] if p.exists()), None)


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    ok: bool = True


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)) -> Sample:
    """Run a command as a child process; wall time, CPU time and peak RSS of it (and its children)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) not in ok_codes:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def timed_repeated(command: list[str], times: int = SHORT_RUN_REPEATS) -> Sample:
    """A sub-second, idempotent command run ``times`` times in a row: the median wall and CPU time, the highest peak.

    One sample of a 0.3 s run on a shared machine is mostly what else the machine did in those 0.3 s.
    """
    return _median([timed(command) for _ in range(times)])


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


def pins(project: Path) -> dict[str, tuple[str, str]]:
    """``{formula: (tag, commit)}`` from the project's lock."""
    found = {}
    for line in (project / "formula-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            pin, commit = line.split()[:2]
            name, tag = pin.split("==")
            found[name] = (tag, commit)
    return found


def export_of(name: str) -> str:
    return name.split("/")[1][: -len("-formula")]


def verify(project: Path, forge: forge_module.Forge, installed: Path | None = None, nested: bool = False) -> bool:
    """Whether ``installed`` (default vendor/_root) holds exactly each pinned commit's init.sls.

    ``nested``: peers put a whole checkout per module (``<dir>/<export>/<export>/init.sls``).
    """
    import pygit2

    root = installed or project / "vendor" / "_root"
    for name, (_, commit) in pins(project).items():
        repo = pygit2.Repository(str(forge.root / f"{name}.git"))
        export = export_of(name)
        expected = repo[commit].peel(pygit2.Tree)[f"{export}/init.sls"]
        served = root / export / export / "init.sls" if nested else root / export / "init.sls"
        if not served.is_file() or served.read_bytes() != repo[expected.id].data:
            return False
    return True


def write_puppetfile(path: Path, project: Path, forge: forge_module.Forge) -> None:
    lines = [f"mod '{export_of(name)}', :git => '{forge.url(name)}', :tag => '{tag}'" for name, (tag, _) in pins(project).items()]
    path.write_text("\n".join(lines) + "\n")


def write_galaxy_requirements(path: Path, project: Path, forge: forge_module.Forge) -> None:
    lines = [f"- src: git+{forge.url(name)}\n  version: {tag}\n  name: {export_of(name)}" for name, (tag, _) in pins(project).items()]
    path.write_text("\n".join(lines) + "\n")


def measure_peers(project: Path, forge: forge_module.Forge, workdir: Path, results: dict[str, list[Sample]]) -> None:
    """r10k and ansible-galaxy on the same pins, cold then warm."""
    home = workdir / "peer-home"
    env = {**os.environ, "HOME": str(home)}
    if R10K:
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        puppetfile, moduledir = workdir / "Puppetfile", workdir / "r10k-modules"
        write_puppetfile(puppetfile, project, forge)
        (workdir / "r10k.yaml").write_text(f"cachedir: {workdir / 'r10k-cache'}\n")
        shutil.rmtree(moduledir, ignore_errors=True)
        shutil.rmtree(workdir / "r10k-cache", ignore_errors=True)
        command = [R10K, "puppetfile", "install", "--puppetfile", str(puppetfile), "--moduledir", str(moduledir), "--config", str(workdir / "r10k.yaml")]
        for run in ("r10k-cold", "r10k-warm"):
            sample = timed(command, env=env)
            sample.ok = verify(project, forge, moduledir, nested=True)
            results[run].append(sample)
    if GALAXY:
        requirements, roles = workdir / "requirements.yml", workdir / "galaxy-roles"
        write_galaxy_requirements(requirements, project, forge)
        shutil.rmtree(roles, ignore_errors=True)
        command = [GALAXY, "role", "install", "-r", str(requirements), "-p", str(roles)]
        for run in ("galaxy-cold", "galaxy-warm"):
            sample = timed(command, env=env)
            sample.ok = verify(project, forge, roles, nested=True)
            results[run].append(sample)


def add_tag(bare: Path, tag: str) -> None:
    """One new commit and annotated tag on main, as a maintainer would push."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["git", "clone", "-q", str(bare), work], check=True)
        (Path(work) / "BUMP").write_text(tag)
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
        for args in (["add", "BUMP"], ["commit", "-qm", tag], ["tag", "-a", tag, "-m", tag], ["push", "-q", "origin", "main", tag]):
            subprocess.run(["git", *args], cwd=work, check=True, env=env)


def salt_run_config(workdir: Path) -> list[str] | None:
    """A master config for ``salt-run`` (no daemon needed for these runner calls), or None without salt."""
    salt_run = shutil.which("salt-run") or str(Path(sys.executable).with_name("salt-run"))
    if not Path(salt_run).exists():
        return None
    conf = workdir / "salt-conf"
    (workdir / "salt-root" / "var" / "cache" / "salt" / "master" / "proc").mkdir(parents=True, exist_ok=True)
    conf.mkdir(exist_ok=True)
    (conf / "master").write_text(f"root_dir: {workdir / 'salt-root'}\nuser: {os.environ.get('USER', 'root')}\nlog_level: error\n")
    return [salt_run, "-c", str(conf)]


def measure_runner(project: Path, forge: forge_module.Forge, workdir: Path, results: dict[str, list[Sample]]) -> None:
    """salt-run's own start (test.arg) and shaker.install_pinned with nothing changed."""
    salt_run = salt_run_config(workdir)
    if salt_run is None:
        return
    results.setdefault("salt-run-base", []).append(timed([*salt_run, "test.arg"]))
    # Salt reads settings from its config and the arguments, not from shaker.yml
    results.setdefault("runner-warm", []).append(timed([*salt_run, "shaker.install_pinned", f"root_dir={project}", f"source_template={forge.template}"]))


def measure_size(size: int, tags: int, runs: int, workdir: Path, with_salt: bool = False, kind: str = "plain",
                 delay: float = 0.0) -> dict[str, list[Sample]]:
    """Every figure of ``runs`` interleaved rounds on a forge of ``size`` formulas of ``kind``; one sample per round.

    With ``delay``, the forge is served over smart HTTP from 127.0.0.1, every request held back ``delay`` seconds.
    """
    suffix = "" if kind == "plain" else f"-{kind}"
    forge = forge_module.generate(workdir / f"forge-{size}{suffix}", size, tags, kind=kind)
    if not delay:
        return _measure(forge, size, runs, workdir, with_salt, suffix)
    with GitHttpServer(forge.root, delay=delay) as server:
        return _measure(dataclasses.replace(forge, base_url=server.url), size, runs, workdir, with_salt, suffix)


def _measure(forge: forge_module.Forge, size: int, runs: int, workdir: Path, with_salt: bool, suffix: str) -> dict[str, list[Sample]]:
    project = workdir / f"project-{size}{suffix}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "metadata.yml").write_text(forge_module.project_metadata(forge))
    (project / "shaker.yml").write_text(f"source_template: {forge.template}\n")
    root_args = ["--root_dir", str(project)]
    names = ["cold", "warm", "status", "bump", "check", "clone-seq", "clone-8", "ls-remote-8"]
    names += ["r10k-cold", "r10k-warm"] if R10K else []
    names += ["galaxy-cold", "galaxy-warm"] if GALAXY else []
    results: dict[str, list[Sample]] = {name: [] for name in names}
    for run in range(runs):
        shutil.rmtree(project / "vendor", ignore_errors=True)
        (project / "formula-requirements.txt").unlink(missing_ok=True)
        sample = timed([*SHAKER, "install", *root_args])
        sample.ok = verify(project, forge)
        results["cold"].append(sample)
        hidden = forge.root.with_name(forge.root.name + ".away")
        forge.root.rename(hidden)
        try:
            sample = timed_repeated([*SHAKER, "install-pinned-versions", *root_args])
            results["warm"].append(sample)
            results["status"].append(timed_repeated([*SHAKER, "status", *root_args]))  # hashes every served file against git
        finally:
            hidden.rename(forge.root)
        sample.ok = verify(project, forge)
        measure_peers(project, forge, workdir, results)
        if with_salt:
            measure_runner(project, forge, workdir, results)
        movable = [name for i, name in enumerate(forge.names[:-1]) if not forge_module.held(i, size)]  # a held formula would not move
        bumped = movable[(run * 7) % len(movable)]
        add_tag(forge.root / f"{bumped}.git", f"v9.{run}.{int(time.time())}")
        with tempfile.TemporaryDirectory(dir=workdir) as one:
            results.setdefault("fetch-1", []).append(timed(["git", "clone", "-q", "--bare", forge.url(bumped), f"{one}/m.git"]))
        sample = timed([*SHAKER, "update", bumped, *root_args])
        sample.ok = verify(project, forge) and f"{bumped}==v9.{run}." in (project / "formula-requirements.txt").read_text()
        results["bump"].append(sample)
        results["check"].append(timed([*SHAKER, "check", *root_args], ok_codes=(0, 1)))
        urls = [forge.url(name) for name in forge.names]
        with tempfile.TemporaryDirectory(dir=workdir) as clones:
            commands = [["git", "clone", "-q", "--depth", "1", url, f"{clones}/seq{i}"] for i, url in enumerate(urls)]
            results["clone-seq"].append(timed_parallel(commands, 1))
            commands = [["git", "clone", "-q", "--depth", "1", url, f"{clones}/par{i}"] for i, url in enumerate(urls)]
            results["clone-8"].append(timed_parallel(commands, 8))
        results["ls-remote-8"].append(timed_parallel([["git", "ls-remote", "-q", url] for url in urls], 8))
    return results


def held_below_newest(project: Path, tags: int) -> int:
    """How many formulas the lock pins below their newest release tag (v9.* bump tags aside)."""
    newest = f"v1.{tags - 1}.0"
    return sum(1 for tag, _ in pins(project).values() if tag != newest and not tag.startswith("v9."))


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        max(s.rss_mb for s in samples),
        all(s.ok for s in samples),
    )


OURS = {"cold": ("clone-8", "r10k-cold", "galaxy-cold"), "warm": ("r10k-warm", "galaxy-warm"), "bump": ("ls-remote-8",), "check": ("ls-remote-8",)}
RESOLVE_LIMIT_S = 2.0


def per_round(rounds: dict[str, list[Sample]], top: str, bottom: str) -> float:
    """The median of the per-round ratios top/bottom (both measured in the same round)."""
    return statistics.median(a.wall / b.wall for a, b in zip(rounds[top], rounds[bottom], strict=True))


def report(size: int, rounds: dict[str, list[Sample]], kind: str = "plain", held: int = 0, delay: float = 0.0) -> None:
    figures = {name: _median(samples) for name, samples in rounds.items()}
    served = f"smart HTTP, {delay * 1000:.0f} ms per request" if delay else "file://"
    print(f"\nN={size} formulas (+1 big), {kind} forge ({held} pinned below their newest tag) over {served}, {os.cpu_count()} cores, median of runs")
    print(f"{'run':<12} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}  verified")
    for name, sample in figures.items():
        print(f"{name:<12} {sample.wall:>8.3f} {sample.cpu:>8.3f} {sample.rss_mb:>8.1f}  {'yes' if sample.ok else 'FAIL':>8}")
    print("ratios (peer wall / salt-shaker wall, median of per-round ratios; above 1 means salt-shaker is faster):")
    for ours, peers in OURS.items():
        cells = [f"{peer} {per_round(rounds, peer, ours):.2f}x" for peer in peers if peer in figures]
        if cells:
            print(f"  {ours:<6} vs " + ", ".join(cells))
    print(f"  cold   is {per_round(rounds, 'cold', 'clone-8'):.2f}x the 8-way shallow-clone floor (target at most 1.5x)")
    print(f"  warm   install-pinned-versions {figures['warm'].wall:.3f}s (median of {SHORT_RUN_REPEATS} runs in each round; target at N=300: under {WARM_LIMIT_S}s)")
    print(f"  per formula: cold {figures['cold'].wall / (size + 1) * 1000:.1f} ms, warm {figures['warm'].wall / (size + 1) * 1000:.2f} ms; "
          f"peak memory of salt-shaker {max(figures[name].rss_mb for name in ('cold', 'warm', 'bump', 'check')):.0f} MB")
    if "fetch-1" in figures:
        floors = [a.wall + b.wall for a, b in zip(rounds["ls-remote-8"], rounds["fetch-1"], strict=True)]
        ratio = statistics.median(bump.wall / floor for bump, floor in zip(rounds["bump"], floors, strict=True))
        print(f"  bump   is {ratio:.2f}x the ls-remote-8 + fetch-1 floor ({statistics.median(floors):.2f}s) (target at most 2x)")
    if "runner-warm" in figures:
        added = figures["runner-warm"].wall - figures["salt-run-base"].wall
        print(f"  runner: salt-run shaker.install_pinned {figures['runner-warm'].wall:.2f}s, salt-run test.arg {figures['salt-run-base'].wall:.2f}s:"
              f" the runner function adds {added:+.2f}s to salt-run's own start; the command line takes {figures['warm'].wall:.2f}s")
    if PEERS_LEFT_OUT:
        print("  peers left out (--no-peers)")
        return
    if not R10K:
        print("  r10k not installed: apt-get install r10k")
    if not GALAXY:
        print("  ansible-galaxy not installed: pip install ansible-core")


def forge_kinds(value: str) -> list[str]:
    """``--forges``: ``both``, or a comma-separated list of plain and backtrack."""
    kinds = ["plain", "backtrack"] if value == "both" else value.split(",")
    if not set(kinds) <= {"plain", "backtrack"}:
        raise argparse.ArgumentTypeError(f"takes plain, backtrack, both or a comma-separated list of them, not {value!r}")
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,100,300", help="comma-separated formula counts (add 1000 for the large run)")
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--forges", type=forge_kinds, default="plain,backtrack", help="forge kinds (bench/forge.py --kind): plain, backtrack or both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.0,
                        help="serve the forge over smart HTTP with this many seconds of delay per request (0.05: a far git host); 0: file://")
    parser.add_argument("--workdir", type=Path, default=None, help="where forges and projects go (default: a temp dir)")
    parser.add_argument("--salt", action="store_true", help="also time salt-run shaker.install_pinned (needs salt installed)")
    parser.add_argument("--large", action="store_true", help="add N=1000 to the sizes")
    parser.add_argument("--no-peers", action="store_true", help="leave out r10k and ansible-galaxy (for N=3000 by hand: r10k alone takes many minutes)")
    args = parser.parse_args()
    if args.no_peers:
        global R10K, GALAXY, PEERS_LEFT_OUT
        R10K = GALAXY = None
        PEERS_LEFT_OUT = True
    # pip compiles bytecode when it installs a package; an editable checkout (or PYTHONDONTWRITEBYTECODE)
    # would otherwise compile salt-shaker at every start and time the compiler, not salt-shaker
    compileall.compile_dir(str(HERE.parent / "shaker_core"), quiet=1)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shaker-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")] + ([1000] if args.large else [])
    for kind in args.forges:
        for size in sizes:
            rounds = measure_size(size, args.tags, args.runs, workdir.resolve(), args.salt, kind, args.delay)
            suffix = "" if kind == "plain" else f"-{kind}"
            report(size, rounds, kind, held_below_newest(workdir.resolve() / f"project-{size}{suffix}", args.tags), args.delay)
    resolve_bench = subprocess.run([sys.executable, str(HERE / "resolve.py"), "--formulas", "1000", "--repeat", "3"], capture_output=True, text=True, check=True)
    print(f"\nresolver alone, warm (bench/resolve.py --formulas 1000): {resolve_bench.stdout.strip()} (target under {RESOLVE_LIMIT_S:.0f}s)")


if __name__ == "__main__":
    main()
