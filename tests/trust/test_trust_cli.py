"""Signed formulas through the real command line: real gpg and ssh-keygen keys, tags and commits signed by git.

Every refusal is checked for its exit code (8), its one sentence (formula, tag, key,
what to do) and for leaving the project directory byte for byte as it was.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from hardening.hardkit import assert_unchanged, disk_state
from helpers.forge import Forge
from helpers.run import shaker
from helpers.signing import GpgKey, SshKey, replay_tag, sign_commit, sign_tag, tamper_tag
from trustkit import Project

A, B = "org/a-formula", "org/b-formula"


@pytest.fixture
def forge(tmp_path, alice, bob):
    """a v1.0.0 signed by alice (gpg), b v1.0.0 signed by bob (ssh)."""
    made = Forge(tmp_path / "forge")
    a = made.formula(A, {"a/init.sls": "a: 1\n"})
    sign_tag(a, "v1.0.0", alice)
    b = made.formula(B, {"b/init.sls": "b: 1\n"})
    sign_tag(b, "v1.0.0", bob)
    return made


def trust_for(project: Project, *gpg: GpgKey, ssh: tuple[SshKey, ...] = (), require: str = "tag") -> dict:
    entry: dict = {"require": require}
    if gpg:
        entry["gpg_keys"] = [project.gpg_file(key) for key in gpg]
    if ssh:
        entry["ssh_allowed_signers"] = project.allowed_signers(*ssh)
    return {f"file://{project.forge.root}/": entry}


@pytest.fixture
def project(tmp_path, forge, alice, bob):
    made = Project(tmp_path / "p", forge, [A, B])
    made.write_settings(trust_for(made, alice, ssh=(bob,)))
    return made


def installed(project: Project, *args: str):
    result = shaker("install", *args, cwd=project.path)
    assert result.code == 0, result
    return result


def refused(project: Project, *args: str) -> str:
    """Run a command that must be refused under trust: exit 8, nothing changed but the deploy record of the failure; its message."""
    before = disk_state(project.path)
    result = shaker(*args, "--json", cwd=project.path)
    assert result.code == 8, result
    assert "Traceback" not in result.err
    after = disk_state(project.path)
    if "vendor" not in before.tree:  # a first run creates vendor/ for its lock and records, and nothing else
        after = replace(after, tree={path: entry for path, entry in after.tree.items() if path != "vendor"})
    assert_unchanged(before, after, " ".join(args))
    report = result.json()
    assert report["error"] == "trust"
    record = project.path / "vendor" / "deploy.json"
    if record.exists() and args[0] != "check":
        assert json.loads(record.read_text())["message"] == report["message"]
    return report["message"]


def test_signed_tags_install_and_the_lock_names_each_signer(project, alice, bob):
    report = installed(project, "--json").json()
    assert project.lock_lines() == [
        f"{A}==v1.0.0 {project.forge[A].head()} # signed-by openpgp:{alice.fingerprint}",
        f"{B}==v1.0.0 {project.forge[B].head()} # signed-by ssh:{bob.fingerprint}",
    ]
    assert report["signed_by"] == {A: f"openpgp:{alice.fingerprint}", B: f"ssh:{bob.fingerprint}"}
    assert (project.path / "vendor" / "_root" / "a" / "init.sls").read_text() == "a: 1\n"
    again = shaker("install-pinned-versions", "--json", cwd=project.path)
    assert again.code == 0 and again.json()["published"] is False, again


@pytest.mark.parametrize("case", ["untrusted", "expired", "lightweight", "unsigned", "tampered", "replayed"])
def test_a_new_tag_not_signed_as_required_is_refused_and_nothing_changes(project, case, alice, mallory, erin, bob):
    installed(project)
    a = project.forge[A]
    a.commit({"a/init.sls": "a: 2\n"})
    key = {"untrusted": mallory, "expired": erin}.get(case, alice)
    if case in ("untrusted", "expired", "tampered"):
        sign_tag(a, "v1.1.0", key)
    if case == "tampered":
        tamper_tag(a, "v1.1.0", "a different release note")
    if case in ("lightweight", "unsigned"):
        a.tag("v1.1.0", annotated=case == "unsigned")
    if case == "replayed":
        replay_tag(a, "v1.0.0", "v1.1.0")
    if case == "expired":  # erin is trusted: only the expiry refuses
        project.write_settings(trust_for(project, alice, erin, ssh=(bob,)))
    message = refused(project, "update", A)
    commit = a.git("rev-parse", "v1.1.0^{commit}")
    assert message.startswith(f"{A} tag v1.1.0 ({commit[:12]}) is refused: ")
    assert message.endswith(f"nothing was changed: pin a version signed by a key trusted under 'trust' file://{project.forge.root}/, "
                            "or add its signer's key there.")
    expected = {
        "untrusted": f"its tag signature is refused: the key that signed it is not a trusted key (key {mallory.fingerprint[-16:]})",
        "expired": f"its tag signature is refused: the key that signed it has expired (key {erin.fingerprint[-16:]})",
        "lightweight": "it is a lightweight tag; 'require: tag' needs a signed annotated tag (git tag -s)",
        "unsigned": "it is an unsigned annotated tag; sign the tag (git tag -s)",
        "tampered": f"its tag signature is refused: the signature does not match the signed data (it was changed after signing) (key {alice.fingerprint[-16:]})",
        "replayed": "its signed tag object names tag 'v1.0.0', not v1.1.0 (a signed tag replayed under another name)",
    }[case]
    assert f"is refused: {expected}; nothing was changed" in message


@pytest.mark.parametrize("case", ["untrusted", "tampered"])
def test_ssh_signatures_by_an_unknown_key_or_over_changed_bytes_are_refused(project, case, bob, dave):
    installed(project)
    b = project.forge[B]
    b.commit({"b/init.sls": "b: 2\n"})
    sign_tag(b, "v1.1.0", dave if case == "untrusted" else bob)
    if case == "tampered":
        tamper_tag(b, "v1.1.0", "edited after signing")
    message = refused(project, "update", B)
    if case == "untrusted":
        assert f"the key that signed it is not in the trusted allowed_signers file (key {dave.fingerprint})" in message
    else:
        assert f"the signature does not match the signed data (it was changed after signing) (key {bob.email})" in message


def test_install_refuses_an_unsigned_newest_tag_instead_of_picking_an_older_one(project):
    project.forge[A].commit({"a/init.sls": "a: 2\n"})
    project.forge[A].tag("v1.1.0")
    message = refused(project, "install")
    assert message.startswith(f"{A} tag v1.1.0 ") and "unsigned annotated tag" in message
    assert not (project.path / "formula-requirements.txt").exists()


def test_every_refused_formula_is_named(project, mallory, dave):
    for name, key in ((A, mallory), (B, dave)):
        project.forge[name].commit({"x": "2\n"})
        sign_tag(project.forge[name], "v1.1.0", key)
    message = refused(project, "install")
    assert message.startswith(f"{A} tag v1.1.0 ") and message.endswith(f"Also refused: {B}.")


def test_a_revoked_key_refuses_what_it_signed_even_when_a_verdict_was_cached(tmp_path, keys, forge):
    carol = keys.gpg("carol")
    c = forge.formula("org/c-formula", {"c/init.sls": "c: 1\n"})
    sign_tag(c, "v1.0.0", carol)
    project = Project(tmp_path / "p", forge, ["org/c-formula"])
    project.write_settings(trust_for(project, carol))
    installed(project)
    assert project.lock_lines()[0].endswith(f"# signed-by openpgp:{carol.fingerprint}")
    keys.revoke(carol)
    project.gpg_file(carol)  # the operator exports the key again, now revoked
    message = refused(project, "install-pinned-versions")
    assert f"the key that signed it has been revoked (key {carol.fingerprint[-16:]})" in message


def test_require_commit_needs_the_pinned_commit_signed(tmp_path, forge, alice, bob):
    a = forge[A]
    sign_commit(a, {"a/init.sls": "a: 2\n"}, alice)
    a.tag("v1.1.0", annotated=False)  # a lightweight tag on a signed commit is enough for 'commit'
    project = Project(tmp_path / "p", forge, [A])
    project.write_settings(trust_for(project, alice, require="commit"))
    installed(project)
    assert project.lock_lines() == [f"{A}==v1.1.0 {a.head()} # signed-by openpgp:{alice.fingerprint}"]
    a.commit({"a/init.sls": "a: 3\n"})
    sign_tag(a, "v1.2.0", alice)  # a signed tag does not sign the commit
    message = refused(project, "update", A)
    assert f"its commit {a.head()[:12]} is not signed; 'require: commit' needs a signed commit (git commit -S)" in message


def test_require_any_takes_a_signed_commit_under_an_unsigned_tag(tmp_path, forge, bob):
    b = forge[B]
    sign_commit(b, {"b/init.sls": "b: 2\n"}, bob)
    b.tag("v1.1.0")
    project = Project(tmp_path / "p", forge, [B])
    project.write_settings(trust_for(project, ssh=(bob,), require="any"))
    installed(project)
    assert project.lock_lines() == [f"{B}==v1.1.0 {b.head()} # signed-by ssh:{bob.fingerprint}"]
    b.commit({"b/init.sls": "b: 3\n"})
    b.tag("v1.2.0")
    assert "neither its tag nor its commit is signed" in refused(project, "update", B)


def test_a_new_signer_is_refused_by_a_pinned_install_until_it_is_accepted(project, alice, alice2, bob):
    installed(project)
    project.write_settings(trust_for(project, alice, alice2, ssh=(bob,)))
    a = project.forge[A]
    sign_tag(a, "v1.0.0", alice2, force=True)  # the same commit, re-tagged by another trusted key
    lock = (project.path / "formula-requirements.txt").read_text()
    assert shaker("outdated", cwd=project.path).code == 0  # fetches the mirrors (and writes nothing): the re-signed tag is seen
    message = refused(project, "install-pinned-versions")
    assert message == (f"{A} tag v1.0.0 ({a.head()[:12]}) is now signed by openpgp:{alice2.fingerprint}, but the lock records "
                       f"openpgp:{alice.fingerprint}; nothing was changed: run `salt-shaker update {A}` (or with --enable-remote-check) "
                       "to accept the new signer.")
    accepted = shaker("install-pinned-versions", "--enable-remote-check", "--json", cwd=project.path)
    assert accepted.code == 0, accepted
    assert f"{A}: the signer changed from openpgp:{alice.fingerprint} to openpgp:{alice2.fingerprint}." in accepted.json()["warnings"]
    assert (project.path / "formula-requirements.txt").read_text() == lock.replace(alice.fingerprint, alice2.fingerprint)


def test_update_accepts_a_new_signer_and_reports_it(project, alice, alice2, bob):
    installed(project)
    project.write_settings(trust_for(project, alice, alice2, ssh=(bob,)))
    sign_tag(project.forge[A], "v1.0.0", alice2, force=True)
    result = shaker("update", A, "--json", cwd=project.path)
    assert result.code == 0, result
    assert f"{A}: the signer changed from openpgp:{alice.fingerprint} to openpgp:{alice2.fingerprint}." in result.json()["warnings"]
    assert project.lock_lines()[0].endswith(f"# signed-by openpgp:{alice2.fingerprint}")


def test_a_warm_run_starts_no_verifier(project, tmp_path):
    installed(project)
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "calls"
    for tool in ("gpg", "gpgv", "ssh-keygen", "gpgconf"):
        (shims / tool).write_text(f"#!/bin/sh\necho {tool} >> {calls}\nexit 2\n")
        (shims / tool).chmod(0o755)
    path = f"{shims}{os.pathsep}{os.environ['PATH']}"
    result = shaker("install-pinned-versions", cwd=project.path, env={"PATH": path})
    assert result.code == 0, result
    assert not calls.exists(), calls.read_text()
    # a changed key file is a new key set: everything is checked again (and the broken tools now answer)
    (project.keys / "allowed_signers").write_text((project.keys / "allowed_signers").read_text() + "\n")
    result = shaker("install-pinned-versions", cwd=project.path, env={"PATH": path})
    assert result.code != 0 and calls.read_text(), result


def test_an_old_lock_gains_its_signers_on_a_pinned_install(project, alice, bob):
    installed(project)
    lock_path = project.path / "formula-requirements.txt"
    signed = lock_path.read_text()
    lock_path.write_text("".join(line.split(" #")[0] + "\n" if "signed-by" in line else line + "\n" for line in signed.splitlines()))
    result = shaker("install-pinned-versions", "--json", cwd=project.path)
    assert result.code == 0 and result.json()["lock_changed"] is True, result
    assert lock_path.read_text() == signed


def test_require_trust_refuses_a_source_no_prefix_covers(tmp_path, forge, alice):
    other = Forge(tmp_path / "elsewhere")
    other.formula("org/z-formula", {"z/init.sls": "z: 1\n"}, tag="v1.0.0")
    project = Project(tmp_path / "p", forge, [A, {"name": "org/z-formula", "source": other["org/z-formula"].url}], require_trust=True)
    project.write_settings(trust_for(project, alice))
    message = refused(project, "install")
    assert message == (f"org/z-formula comes from {other['org/z-formula'].url}, which no 'trust' prefix covers, and require_trust is set; "
                       "add a 'trust' entry with the keys that sign it.")


@pytest.mark.parametrize(("trust", "expected"), [
    ({"file:///srv/": {"require": "tag"}}, "trust 'file:///srv/' names no key; give gpg_keys, ssh_allowed_signers or both."),
    ({"file:///srv/": {"gpg_keys": ["k.asc"], "require": "signed"}}, "'require' must be one of tag, commit or any, not 'signed'."),
    ({"file:///srv/": {"gpg_keys": "k.asc"}}, "'gpg_keys' must be a list of armored public key files."),
    ({"file:///srv/": {"gpg_key": ["k.asc"]}}, "has the unknown key 'gpg_key'; use gpg_keys, ssh_allowed_signers and require."),
    (["file:///srv/"], "'trust' must be a mapping of source URL prefix to gpg_keys, ssh_allowed_signers and require."),
])
def test_a_bad_trust_setting_is_a_usage_error(project, trust, expected):
    (project.path / "shaker.yml").write_text(json.dumps({**project.settings, "trust": trust}))
    result = shaker("install", cwd=project.path)
    assert result.code == 2 and expected in result.err and "Traceback" not in result.err, result


def test_a_key_file_that_is_no_key_is_a_usage_error(project):
    (project.keys / "alice.asc").write_text("not a key\n")
    result = shaker("install", cwd=project.path)
    assert result.code == 2, result
    assert f"The trusted key file {project.keys / 'alice.asc'} holds no OpenPGP public key GnuPG can import" in result.err
    (project.keys / "alice.asc").unlink()
    result = shaker("install", cwd=project.path)
    assert result.code == 2 and f"The trusted key file {project.keys / 'alice.asc'} cannot be read" in result.err, result


def test_a_source_outside_every_prefix_is_deployed_unsigned_without_require_trust(tmp_path, forge, alice):
    other = Forge(tmp_path / "elsewhere")
    other.formula("org/z-formula", {"z/init.sls": "z: 1\n"}, tag="v1.0.0")
    project = Project(tmp_path / "p", forge, [A, {"name": "org/z-formula", "source": other["org/z-formula"].url}])
    project.write_settings(trust_for(project, alice))
    installed(project)
    lines = project.lock_lines()
    assert lines[0].endswith(f"# signed-by openpgp:{alice.fingerprint}") and "signed-by" not in lines[1]


def test_require_tag_refuses_a_pin_to_a_branch_or_a_commit(tmp_path, forge, alice):
    a = forge[A]
    head = sign_commit(a, {"a/init.sls": "a: dev\n"}, alice, branch="develop")  # signed, but not a tag
    for pin, kind in ((f"{A}==develop", "branch develop"), (f"{A}=={head}", f"commit {head[:12]}")):
        project = Project(tmp_path / f"p-{kind.split()[0]}", forge, [pin])
        project.write_settings(trust_for(project, alice))
        message = refused(project, "install")
        assert f"it is pinned to {kind}, and 'require: tag' accepts only a signed tag" in message
        project.write_settings(trust_for(project, alice, require="commit"))
        installed(project)
        assert project.lock_lines()[0].endswith(f"# signed-by openpgp:{alice.fingerprint}")


def test_a_signed_tag_that_names_another_commit_than_the_pin_is_refused(project, alice):
    """Decided on what is deployed: a lock line whose commit is not the one the signed tag names (the tag check elsewhere passed it)."""
    from shaker_core import provenance, session
    from shaker_core.errors import TrustError
    from shaker_core.lockfile import LockEntry, make
    from shaker_core.settings import Settings

    a = project.forge[A]
    other = a.commit({"a/init.sls": "a: unsigned\n"})
    settings = Settings.from_mapping({"root_dir": str(project.path), **project.settings,
                                      "trust": {f"file://{project.forge.root}/": {"gpg_keys": [project.gpg_file(alice)], "require": "tag"}}})
    with session.git_cache(settings) as cache:
        cache.refresh([a.url])
        with pytest.raises(TrustError) as caught:
            provenance.attest(settings, cache, make([]), make([LockEntry(name=A, ref="v1.0.0", commit=other)]), signer_may_change=True)
    assert f"its signed tag names commit {a.git('rev-parse', 'v1.0.0^{commit}')[:12]}, not the pinned {other[:12]}" in caught.value.message
