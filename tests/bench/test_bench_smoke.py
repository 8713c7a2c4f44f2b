"""The benchmark must not rot: its forge generator and one small measurement run in the suite.

Timings are not asserted (they are noisy); what is asserted is that the
generated forge is what bench/forge.py promises and that the benchmark's own
check of an install (every pinned commit's init.sls served) passes.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import forge as forge_module  # noqa: E402
import run as bench_run  # noqa: E402


def tags_of(bare: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(bare), "tag", "--list"], capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def test_forge_generator_makes_the_promised_repositories(tmp_path):
    forge = forge_module.generate(tmp_path / "forge", formulas=8, tags=3)
    assert len(forge.names) == 9 and forge.names[-1] == "bench/big-formula"
    for name in forge.names:
        assert tags_of(forge.root / f"{name}.git") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert forge.roots() == ["bench/f0-formula", "bench/f1-formula"]
    assert forge_module.dependencies(0, 8) and not forge_module.dependencies(7, 8)
    again = forge_module.generate(tmp_path / "forge2", formulas=8, tags=3)
    head = ["git", "rev-parse", "v1.2.0^{commit}"]
    for name in forge.names:
        first = subprocess.run([*head], cwd=forge.root / f"{name}.git", capture_output=True, text=True).stdout
        second = subprocess.run([*head], cwd=again.root / f"{name}.git", capture_output=True, text=True).stdout
        assert first == second, f"{name}: the generator is not deterministic"


def test_one_measurement_installs_and_verifies(tmp_path):
    forge = forge_module.generate(tmp_path / "forge", formulas=6, tags=2)
    project = tmp_path / "project"
    project.mkdir()
    (project / "metadata.yml").write_text(forge_module.project_metadata(forge))
    (project / "shaker.yml").write_text(f"source_template: {forge.template}\n")
    sample = bench_run.timed([*bench_run.SHAKER, "install", "--root_dir", str(project)])
    assert sample.wall > 0 and sample.rss_mb > 0
    assert bench_run.verify(project, forge)
    served = project / "vendor" / "_root" / "f0" / "init.sls"
    served.chmod(0o644)
    served.unlink()
    served.write_text("tampered\n")
    assert not bench_run.verify(project, forge), "the benchmark's check must catch a wrong tree"


def test_the_branch_benchmark_deploys_every_branch_and_checks_what_each_serves(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "branches.py"), "--branches", "3", "--formulas", "4", "--differ", "1", "--rounds", "2",
                           "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "every saltenv serves its branch's pins: yes" in done.stdout, done.stdout
    assert "sync-push / single-bump" in done.stdout and "disk: vendor/ of 3 environments" in done.stdout


def test_the_backtracking_forge_holds_formulas_back_and_forces_the_resolver_to_go_back(tmp_path):
    forge = forge_module.generate(tmp_path / "forge", formulas=60, tags=5, kind="backtrack")
    assert forge.template.startswith("file://") and forge.url("bench/f1-formula").endswith("/bench/f1-formula.git")
    tempting = [i for i in range(60) if forge_module.tempting(i, 60)]
    newest_needs = [d for i in tempting for d in forge_module.dependencies(i, 60, "backtrack", newest=True) if d.endswith(">=v1.4.0")]
    assert newest_needs and all(forge_module.held(int(d.split("/f")[1].split("-")[0]), 60) for d in newest_needs)
    project = tmp_path / "project"
    project.mkdir()
    (project / "metadata.yml").write_text(forge_module.project_metadata(forge))
    (project / "shaker.yml").write_text(f"source_template: {forge.template}\n")
    assert bench_run.timed([*bench_run.SHAKER, "install", "--root_dir", str(project)]).wall > 0
    assert bench_run.verify(project, forge)
    held = bench_run.held_below_newest(project, 5)
    assert 0.10 * 61 <= held <= 0.30 * 61, held  # about one formula in seven held, plus the tempting ones sent back


def test_the_benchmark_runs_over_delayed_smart_http(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "6", "--runs", "1", "--forges", "backtrack", "--delay", "0.01",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "backtrack forge" in done.stdout and "over smart HTTP, 10 ms per request" in done.stdout, done.stdout
    assert "FAIL" not in done.stdout and "cold   is " in done.stdout


def test_the_benchmark_can_leave_the_peers_out_for_the_largest_sizes(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "6", "--runs", "1", "--forges", "plain", "--no-peers",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "peers left out (--no-peers)" in done.stdout and "r10k" not in done.stdout and "galaxy" not in done.stdout, done.stdout
    assert "FAIL" not in done.stdout and "per formula: cold " in done.stdout


def test_the_resolver_bench_resolves_the_backtracking_forge_graph_with_held_formulas():
    """bench/resolve.py --forge backtrack: every formula pinned, and some held below their newest tag (it really backtracks)."""
    sys.path.insert(0, str(BENCH.parent))
    import resolve as bench_resolve  # noqa: E402 - bench/ is on sys.path above

    from shaker_core.manifest import parse_manifest
    from shaker_core.resolver import resolve

    count = 120
    index = bench_resolve.ForgeIndex(count, 5, "backtrack")
    roots = [f"{forge_module.ORG}/f{i}-formula" for i in range(count) if forge_module._level(i, count) == 0]
    resolution = resolve(parse_manifest("dependencies:\n" + "".join(f"  - {name}\n" for name in roots)), index, lambda name: name)
    assert len(resolution.pins) == count
    held = {name for name, pin in resolution.pins.items() if pin.ref != "v1.4.0"}
    expected_held = {f"{forge_module.ORG}/f{i}-formula" for i in range(count) if forge_module.held(i, count)}
    assert expected_held <= held and held


def test_the_benchmark_refuses_an_unknown_forge_kind_before_doing_anything(tmp_path):
    workdir = tmp_path / "work"
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--forges", "plain,bogus", "--workdir", str(workdir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--forges: takes plain, backtrack, both" in done.stderr and "'plain,bogus'" in done.stderr, done.stderr
    assert not workdir.exists()
