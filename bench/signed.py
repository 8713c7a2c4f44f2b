"""Benchmark signed provenance: a cold install of N formulas whose tags are all signed, against the same forge unsigned.

    python bench/signed.py [--formulas 300] [--rounds 3] [--workdir DIR]

It generates the benchmark forge, copies it, and in the copy replaces every
tag with a tag signed (``git tag -s``) by a GnuPG key made for the run. Each
round, interleaved: a cold ``salt-shaker install`` of the unsigned forge, then
of the signed forge with ``trust: {<forge>: {gpg_keys: [key], require: tag}}``,
then a warm ``install-pinned-versions`` of each (the verdict cache answers).
It checks that the signed lock names the key on every line, and prints
medians and the median of the per-round ratios (target: signed cold within
1.3x of unsigned cold).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import forge as forge_module  # noqa: E402
from run import SHAKER, Sample, timed  # noqa: E402


def make_key(home: Path) -> str:
    """An Ed25519 signing key with no passphrase in GnuPG home ``home``; its fingerprint."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Bench Signer <bench@example.invalid>", "ed25519", "sign", "never"],
                   check=True, capture_output=True, env=env)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], check=True, capture_output=True, text=True, env=env).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def sign_tags(bare: Path, home: Path, fingerprint: str) -> None:
    """Replace every tag of ``bare`` with a signed annotated tag on the same commit."""
    env = {**os.environ, "GNUPGHOME": str(home), "GIT_COMMITTER_NAME": "Bench Signer", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    tags = subprocess.run(["git", "tag"], cwd=bare, check=True, capture_output=True, text=True).stdout.split()
    for tag in tags:
        subprocess.run(["git", "-c", f"user.signingkey={fingerprint}", "tag", "-f", "-s", tag, "-m", f"release {tag}", f"{tag}^{{commit}}"],
                       cwd=bare, check=True, capture_output=True, env=env)


def signed_copy(forge: forge_module.Forge, dest: Path, home: Path, fingerprint: str) -> forge_module.Forge:
    stamp = dest / ".signed"
    if not stamp.exists():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(forge.root, dest, symlinks=True)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda name: sign_tags(dest / f"{name}.git", home, fingerprint), forge.names))
        stamp.write_text("signed\n")
    return forge_module.Forge(dest, forge.names, forge.tags)


def project(path: Path, forge: forge_module.Forge, trust: str = "") -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / "metadata.yml").write_text(forge_module.project_metadata(forge))
    (path / "shaker.yml").write_text(f"source_template: {forge.template}\n{trust}")
    return path


def signed_by_key(path: Path, fingerprint: str) -> bool:
    lines = [line for line in (path / "formula-requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    return bool(lines) and all(line.endswith(f"# signed-by openpgp:{fingerprint}") for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formulas", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    compileall.compile_dir(str(HERE.parent / "shaker_core"), quiet=1)  # as pip does: do not time the compiler
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="shaker-signed-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="gnupg-", dir=workdir))
    try:
        fingerprint = make_key(home)
        key_file = workdir / "signer.asc"
        key_file.write_bytes(subprocess.run(["gpg", "--armor", "--export", fingerprint], check=True, capture_output=True,
                                            env={**os.environ, "GNUPGHOME": str(home)}).stdout)
        plain = forge_module.generate(workdir / f"forge-{args.formulas}", args.formulas)
        signed = signed_copy(plain, workdir / f"forge-{args.formulas}-signed", home, fingerprint)
        results, ok = run_rounds(args.rounds, workdir, plain, signed, key_file, fingerprint)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    report(results, args, ok)


def run_rounds(rounds: int, workdir: Path, plain: forge_module.Forge, signed: forge_module.Forge, key_file: Path,
               fingerprint: str) -> tuple[dict[str, list[Sample]], bool]:
    trust = f"trust:\n  'file://{signed.root}/':\n    gpg_keys: ['{key_file}']\n    require: tag\n"
    results: dict[str, list[Sample]] = {}
    ok = True
    for _ in range(rounds):
        unsigned_project = project(workdir / "unsigned", plain)
        signed_project = project(workdir / "signed", signed, trust)
        for name, path in (("unsigned", unsigned_project), ("signed", signed_project)):
            results.setdefault(f"{name}-cold", []).append(timed([*SHAKER, "--root_dir", str(path), "install"]))
        for name, path in (("unsigned", unsigned_project), ("signed", signed_project)):
            results.setdefault(f"{name}-warm", []).append(timed([*SHAKER, "--root_dir", str(path), "install-pinned-versions"]))
        ok = ok and signed_by_key(signed_project, fingerprint)
    return results, ok


def report(results: dict[str, list[Sample]], args: argparse.Namespace, ok: bool) -> None:
    print(f"{args.formulas + 1} formulas, every tag signed in the signed forge; every signed lock line names the key: {'yes' if ok else 'FAIL'}")
    print(f"{'run':<15}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}   (median of {args.rounds} interleaved rounds)")
    for name, samples in results.items():
        print(f"{name:<15}{statistics.median(s.wall for s in samples):>8.2f}{statistics.median(s.cpu for s in samples):>8.2f}"
              f"{max(s.rss_mb for s in samples):>9.1f}")
    for label, top, bottom in (("signed-cold / unsigned-cold (target <= 1.3)", "signed-cold", "unsigned-cold"),
                               ("signed-warm / unsigned-warm", "signed-warm", "unsigned-warm")):
        ratio = statistics.median(a.wall / b.wall for a, b in zip(results[top], results[bottom], strict=True))
        print(f"{label:<45}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
