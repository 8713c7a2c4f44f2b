"""The signing kit (helpers/signing.py) makes what it claims, checked by oracles outside it.

Each signature is verified by plain ``gpg`` in a home that holds only public keys, by
``ssh-keygen -Y verify`` on the payload split out of the object by hand, or by
``git verify-tag`` / ``git verify-commit`` given the verifier's config; never by the
kit's own signing wrappers.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from helpers.forge import BASE_TIME, Forge, Formula, git
from helpers.signing import GpgKey, Keys, SshKey, gpg_status, replay_tag, sign_commit, sign_tag, sign_work_commit, tamper_tag

PGP = "-----BEGIN PGP SIGNATURE-----"
SSH = "-----BEGIN SSH SIGNATURE-----"


@pytest.fixture
def formula(tmp_path: Path) -> Formula:
    return Forge(tmp_path / "forge").formula("org/users-formula", files={"users/init.sls": "users: {}\n"})


def raw(formula: Formula, kind: str, ref: str) -> bytes:
    """The object's exact bytes (helpers.forge.git strips them)."""
    return subprocess.run(["git", f"--git-dir={formula.bare}", "cat-file", kind, ref], check=True, capture_output=True).stdout


def split(data: bytes, marker: str) -> tuple[bytes, bytes]:
    """Payload and signature of a signed tag object, split at the last line starting with ``marker``."""
    at = data.rfind(b"\n" + marker.encode()) + 1
    assert at > 0, data
    return data[:at], data[at:]


def gpg_verify(home: Path, formula: Formula, tag: str, tmp_path: Path) -> list[str]:
    payload, signature = split(raw(formula, "tag", f"refs/tags/{tag}"), PGP)
    (tmp_path / "tag.sig").write_bytes(signature)
    (tmp_path / "tag.payload").write_bytes(payload)
    return gpg_status(home, "--verify", str(tmp_path / "tag.sig"), str(tmp_path / "tag.payload"))


def git_verify(formula: Formula, what: str, ref: str, *config: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``git verify-tag``/``verify-commit --raw`` with plain gpg on ``home`` (or ssh config), not raising."""
    command = ["git", f"--git-dir={formula.bare}", *config, what, "--raw", ref]
    return subprocess.run(command, capture_output=True, text=True, env=_env(home))


def _env(home: Path | None) -> dict[str, str]:
    return {**os.environ, "GNUPGHOME": str(home)} if home else dict(os.environ)


def words(status: list[str]) -> set[str]:
    return {line.split()[0] for line in status}


def allowed(tmp_path: Path, *keys: SshKey, name: str = "allowed_signers") -> Path:
    path = tmp_path / name
    path.write_text("".join(key.allowed_signers_line() for key in keys))
    return path


def test_a_gpg_signed_tag_is_good_and_valid_for_its_fingerprint_against_only_the_public_key(keys, alice, formula, tmp_path):
    assert re.fullmatch(r"[0-9A-F]{40}", alice.fingerprint)
    commit = sign_tag(formula, "v1.0.0", alice)
    assert commit == formula.head()
    home = keys.public_home("alice-only", alice)
    assert subprocess.run(["gpg", "--homedir", str(home), "--batch", "--list-secret-keys"], capture_output=True).stdout == b""
    status = gpg_verify(home, formula, "v1.0.0", tmp_path)
    assert f"GOODSIG {alice.fingerprint[-16:]} alice <alice@example.invalid>" in status
    assert [line.split()[1] for line in status if line.startswith("VALIDSIG")] == [alice.fingerprint]
    tag = raw(formula, "tag", "v1.0.0").decode()
    assert "tag v1.0.0\n" in tag and PGP in tag and f"{BASE_TIME + formula.forge.clock * 60} +0000\n" in tag
    result = git_verify(formula, "verify-tag", "v1.0.0", home=home)
    assert result.returncode == 0 and f"VALIDSIG {alice.fingerprint}" in result.stderr, result.stderr


def test_an_ssh_signed_tag_verifies_with_ssh_keygen_and_with_git(keys, bob, formula, tmp_path):
    sign_tag(formula, "v1.0.0", bob)
    listed = subprocess.run(["ssh-keygen", "-lf", str(bob.private)], capture_output=True, text=True, check=True).stdout
    assert bob.fingerprint.startswith("SHA256:") and bob.fingerprint == listed.split()[1]
    payload, signature = split(raw(formula, "tag", "refs/tags/v1.0.0"), SSH)
    (tmp_path / "tag.sig").write_bytes(signature)
    signers = allowed(tmp_path, bob)
    verify = ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-n", "git", "-s", str(tmp_path / "tag.sig")]
    good = subprocess.run([*verify, "-I", bob.email], input=payload, capture_output=True)
    assert good.returncode == 0, good.stderr
    assert good.stdout.decode().strip() == f'Good "git" signature for {bob.email} with ED25519 key {bob.fingerprint}'
    assert subprocess.run([*verify, "-I", "mallory@example.invalid"], input=payload, capture_output=True).returncode != 0
    assert subprocess.run([*verify, "-I", bob.email], input=payload + b"x", capture_output=True).returncode != 0
    result = git_verify(formula, "verify-tag", "v1.0.0", "-c", f"gpg.ssh.allowedSignersFile={signers}")
    assert result.returncode == 0 and bob.fingerprint in result.stderr, result.stderr
    stranger = allowed(tmp_path, keys.ssh("stranger"), name="stranger_signers")
    assert git_verify(formula, "verify-tag", "v1.0.0", "-c", f"gpg.ssh.allowedSignersFile={stranger}").returncode != 0


@pytest.mark.parametrize("kind", ["gpg", "ssh"])
def test_signed_commits_verify_with_git_verify_commit(keys, alice, bob, formula, tmp_path, kind):
    key: GpgKey | SshKey = alice if kind == "gpg" else bob
    home = keys.public_home("commit-gpg", alice) if kind == "gpg" else None
    config = [] if kind == "gpg" else ["-c", f"gpg.ssh.allowedSignersFile={allowed(tmp_path, bob)}"]
    unsigned = formula.head()
    commit = sign_commit(formula, {"users/signed.sls": "signed: 1\n"}, key)
    assert commit == formula.head() and formula.git("show", f"{commit}:users/signed.sls") == "signed: 1"
    on_branch = sign_commit(formula, None, key, branch="develop", message="on develop")
    assert on_branch == formula.head("develop") != commit and formula.git("symbolic-ref", "--short", "HEAD") == "main"
    for signed in (commit, on_branch):
        result = git_verify(formula, "verify-commit", signed, *config, home=home)
        assert result.returncode == 0, result.stderr
    assert (PGP if kind == "gpg" else SSH) in raw(formula, "commit", commit).decode()
    assert git_verify(formula, "verify-commit", unsigned, *config, home=home).returncode != 0


def test_sign_work_commit_commits_everything_signed_in_a_plain_work_tree(keys, alice, tmp_path):
    work = tmp_path / "project"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "shaker.yml").write_text("formulas: []\n")
    env = {"GIT_AUTHOR_DATE": f"@{BASE_TIME} +0000", "GIT_COMMITTER_DATE": f"@{BASE_TIME} +0000"}
    head = sign_work_commit(work, alice, "", env=env)
    assert head == git("rev-parse", "HEAD", cwd=work) and git("ls-files", cwd=work) == "shaker.yml"
    assert git("log", "-1", "--format=%ct", cwd=work) == str(BASE_TIME)
    home = keys.public_home("work", alice)
    verified = subprocess.run(["git", "verify-commit", "--raw", head], cwd=work, capture_output=True, text=True, env=_env(home))
    assert verified.returncode == 0 and f"VALIDSIG {alice.fingerprint}" in verified.stderr, verified.stderr


def test_the_expired_key_signed_inside_its_validity_and_is_expkeysig_now(keys, erin, formula, tmp_path):
    sign_tag(formula, "v1.0.0", erin)
    home = keys.public_home("erin-only", erin)
    status = gpg_verify(home, formula, "v1.0.0", tmp_path)
    assert "EXPKEYSIG" in words(status) and "GOODSIG" not in words(status), status
    listing = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-keys"], capture_output=True, text=True)
    pub = next(line.split(":") for line in listing.stdout.splitlines() if line.startswith("pub:"))
    created, expires = int(pub[5]), int(pub[6])
    signed = int(next(line for line in status if line.startswith("VALIDSIG")).split()[3])
    assert pub[1] == "e" and created < signed < expires < time.time()
    assert git_verify(formula, "verify-tag", "v1.0.0", home=home).returncode != 0


def test_a_signature_made_before_revoking_is_revkeysig_after(keys, formula, tmp_path):
    carol = keys.gpg("carol-kit")
    sign_tag(formula, "v1.0.0", carol)
    before = gpg_verify(keys.public_home("carol-before", carol), formula, "v1.0.0", tmp_path)
    keys.revoke(carol)
    shown = subprocess.run(["gpg", "--batch", "--with-colons", "--show-keys", str(carol.public_file(tmp_path / "c.asc"))], capture_output=True, text=True)
    assert any(line.startswith("pub:r:") for line in shown.stdout.splitlines()), shown.stdout
    after = gpg_verify(keys.public_home("carol-after", carol), formula, "v1.0.0", tmp_path)
    assert "GOODSIG" in words(before) and "REVKEYSIG" not in words(before)
    assert "REVKEYSIG" in words(after) and "GOODSIG" not in words(after), after
    assert git_verify(formula, "verify-tag", "v1.0.0", home=keys.public_home("carol-git", carol)).returncode != 0


def test_a_tampered_tag_keeps_its_signature_and_is_badsig(keys, alice, bob, formula, tmp_path):
    sign_tag(formula, "v1.0.0", alice)
    old = formula.git("rev-parse", "refs/tags/v1.0.0")
    old_signature = split(raw(formula, "tag", old), PGP)[1]
    new = tamper_tag(formula, "v1.0.0", "nothing to see here")
    assert new != old and formula.git("rev-parse", "refs/tags/v1.0.0") == new
    payload, signature = split(raw(formula, "tag", new), PGP)
    assert signature == old_signature and payload.endswith(b"\n\nnothing to see here\n")
    home = keys.public_home("tamper", alice)
    status = gpg_verify(home, formula, "v1.0.0", tmp_path)
    assert f"BADSIG {alice.fingerprint[-16:]} alice <alice@example.invalid>" in status
    assert not words(status) & {"GOODSIG", "VALIDSIG"}, status
    assert git_verify(formula, "verify-tag", "v1.0.0", home=home).returncode != 0
    sign_tag(formula, "v2.0.0", bob)
    tamper_tag(formula, "v2.0.0", "forged")
    signers = ["-c", f"gpg.ssh.allowedSignersFile={allowed(tmp_path, bob)}"]
    assert git_verify(formula, "verify-tag", "v2.0.0", *signers).returncode != 0


def test_a_replayed_tag_is_the_old_object_under_a_new_name(keys, alice, formula, tmp_path):
    sign_tag(formula, "v1.0.0", alice)
    formula.commit({"users/new.sls": "new: 1\n"})
    replay_tag(formula, "v1.0.0", "v9.9.9")
    assert formula.git("rev-parse", "refs/tags/v9.9.9") == formula.git("rev-parse", "refs/tags/v1.0.0")
    header = raw(formula, "tag", "refs/tags/v9.9.9").decode().split("\n\n")[0].splitlines()
    assert "tag v1.0.0" in header and "tag v9.9.9" not in header
    result = git_verify(formula, "verify-tag", "v9.9.9", home=keys.public_home("replay", alice))
    assert result.returncode == 0, result.stderr  # the signature alone cannot tell a replay


def test_sign_tag_force_re_signs_onto_another_commit(alice, formula):
    first = sign_tag(formula, "v1.0.0", alice)
    second = formula.commit({"users/more.sls": "more: 1\n"})
    assert sign_tag(formula, "v1.0.0", alice, at=second, force=True, message="moved") == second != first
    assert raw(formula, "tag", "refs/tags/v1.0.0").decode().split("\n\n", 1)[1].startswith("moved\n")


def test_a_key_never_imported_is_no_pubkey_and_errsig(keys, alice, erin, formula, tmp_path):
    sign_tag(formula, "v1.0.0", alice)
    home = keys.public_home("erin-not-alice", erin)
    status = gpg_verify(home, formula, "v1.0.0", tmp_path)
    assert f"NO_PUBKEY {alice.fingerprint[-16:]}" in status and "ERRSIG" in words(status), status
    assert not words(status) & {"GOODSIG", "VALIDSIG", "BADSIG"}
    assert git_verify(formula, "verify-tag", "v1.0.0", home=home).returncode != 0


def test_close_stops_the_agents_it_started(tmp_path):
    keys = Keys(tmp_path / "k")
    key = keys.gpg("dave-kit")
    ask = ["gpg-connect-agent", "--homedir", str(key.homedir), "--no-autostart", "GETINFO pid", "/bye"]
    pid = int(subprocess.run(ask, capture_output=True, text=True).stdout.split()[1])
    keys.close()
    assert "no gpg-agent running" in subprocess.run(ask, capture_output=True, text=True).stderr
    deadline = time.monotonic() + 5
    while not exited(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exited(pid)


def exited(pid: int) -> bool:
    """Gone, or a zombie (a container's init may not reap the daemonized agent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
