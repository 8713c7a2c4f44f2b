"""Provenance: every formula of a lock, and the project's head, signed as ``trust`` requires, before anything is written.

:func:`attest` returns the lock with each verified formula's signer (which the
lock file records) or raises :class:`TrustError` naming the formula, the tag
and the key. Good verdicts are cached by object id and the trusted keys'
digest, so a warm run runs no tool; a verdict lasts until its key or
signature expires. Signatures are checked in parallel.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from .errors import TrustError
from .git import GitCache
from .lockfile import LockEntry, LockFile
from .settings import Settings
from .signatures import Refused, Signer, Verifier, split_signed
from .sources import redact
from .trust import TrustPolicy, policy_for
from .verdicts import VerdictCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Signed:
    """One signed object to check: what it is (for messages), its id (for the cache), its signature and payload."""

    label: str
    object_id: str
    signature: bytes
    payload: bytes


class _Run:
    """The verifiers (one per policy) and the verdict cache of one run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.verdicts = VerdictCache(settings.cache_path / "trust-verdicts.json")
        self._verifiers: dict[str, tuple[Verifier, str]] = {}

    def policy(self, source: str, what: str) -> TrustPolicy | None:
        policy = policy_for(source, self.settings.trust, self.settings.root)
        if policy is None and self.settings.require_trust:
            raise TrustError(f"{what} comes from {redact(source)}, which no 'trust' prefix covers, and require_trust is set; "
                             "add a 'trust' entry with the keys that sign it.", source=redact(source))
        return policy

    def check(self, policy: TrustPolicy, signed: _Signed) -> Signer:
        verifier, digest = self._verifier(policy)
        cached = self.verdicts.get(signed.object_id, digest)
        if cached is not None:
            return cached
        signer = verifier.verify(signed.signature, signed.payload)
        if signer.method != "ssh" or not policy.ssh_time_limited():
            self.verdicts.put(signed.object_id, digest, signer)
        return signer

    def _verifier(self, policy: TrustPolicy) -> tuple[Verifier, str]:
        if policy.prefix not in self._verifiers:
            self._verifiers[policy.prefix] = (Verifier(policy), policy.digest())
        return self._verifiers[policy.prefix]

    def close(self) -> None:
        self.verdicts.save()
        for verifier, _ in self._verifiers.values():
            verifier.close()


def trusting(settings: Settings) -> bool:
    """Whether any source is under ``trust`` (or every source must be)."""
    return bool(settings.trust) or settings.require_trust


def attest(settings: Settings, cache: GitCache, old: LockFile, new: LockFile, *, signer_may_change: bool) -> tuple[LockFile, list[str]]:
    """``new`` with the signer of every formula ``trust`` covers; a TrustError when one is not signed as required.

    With ``signer_may_change`` false (a pinned install), a formula whose lock
    line names a signer must still be signed by that key.
    """
    if not trusting(settings):
        return (new if not any(e.signer for e in new.entries) else LockFile(entries=tuple(replace(e, signer=None) for e in new.entries))), []
    run = _Run(settings)
    try:
        work = [(entry, _signed_object(run, cache, settings, entry)) for entry in new.entries]
        with ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="shaker-verify") as pool:
            verdicts = list(pool.map(lambda item: _verdict(run, *item), work))
    finally:
        run.close()
    refused = [(entry, verdict) for (entry, _), verdict in zip(work, verdicts, strict=True) if isinstance(verdict, TrustError)]
    if refused:
        raise _first_of(refused)
    signers = {entry.name: verdict for (entry, _), verdict in zip(work, verdicts, strict=True)}
    return _with_signers(new, old, signers, signer_may_change)


def attest_project(settings: Settings, cache: GitCache, branch: str, commit: str) -> str | None:
    """The signer of the project's branch head ``commit`` when ``trust`` covers the project repository (its commit must be signed)."""
    source = settings.project_source or ""
    what = f"The project repository's branch {branch} (head {commit[:12]})"
    run = _Run(settings)
    try:
        policy = run.policy(source, what)
        if policy is None:
            return None
        parts = cache.signed_parts(source, None, commit)
        if parts.commit_signature is None:
            raise TrustError(f"{what} is not a signed commit, and 'trust' {policy.prefix} requires one; it was not deployed: "
                             "push a commit signed by a trusted key (git commit -S).", commit=commit)
        try:
            return run.check(policy, _Signed(f"commit {commit[:12]}", commit, parts.commit_signature, parts.commit_payload)).token
        except Refused as refused:
            raise TrustError(f"{what} is refused: {refused.reason}{_key(refused)}; it was not deployed: push a commit signed by a key "
                             f"trusted under 'trust' {policy.prefix}.", commit=commit, key=refused.key) from None
    finally:
        run.close()


def _signed_object(run: _Run, cache: GitCache, settings: Settings, entry: LockEntry) -> tuple[TrustPolicy, _Signed] | TrustError | None:
    """What must be checked for ``entry`` under its policy (the tag, else the commit, as ``require`` says), or the refusal."""
    try:
        policy = run.policy(settings.source_of(entry), entry.name)
    except TrustError as exc:
        return exc
    if policy is None:
        return None
    if entry.commit is None:
        return _refusal(entry, policy, "its lock line names no commit to check")
    parts = cache.signed_parts(settings.source_of(entry), entry.ref if entry.kind == "tag" else None, entry.commit)
    tag = split_signed(parts.tag_raw) if parts.tag_id else None
    if tag is not None and _tag_name(tag[0]) != entry.ref:
        return _refusal(entry, policy, f"its signed tag object names tag '{_tag_name(tag[0])}', not {entry.ref} (a signed tag replayed under another name)")
    if tag is not None and parts.tag_commit != entry.commit:  # judged on what is deployed: the tag must name the pinned commit
        return _refusal(entry, policy, f"its signed tag names commit {(parts.tag_commit or '')[:12]}, not the pinned {entry.commit[:12]}")
    if tag is not None and policy.require in ("tag", "any"):
        return policy, _Signed(f"tag {entry.ref}", parts.tag_id or "", tag[1], tag[0])
    if parts.commit_signature is not None and policy.require in ("commit", "any"):
        return policy, _Signed(f"commit {entry.commit[:12]}", entry.commit, parts.commit_signature, parts.commit_payload)
    return _refusal(entry, policy, _unsigned_reason(entry, policy, bool(parts.tag_id)))


def _verdict(run: _Run, entry: LockEntry, work: tuple[TrustPolicy, _Signed] | TrustError | None) -> Signer | TrustError | None:
    if work is None or isinstance(work, TrustError):
        return work
    policy, signed = work
    try:
        return run.check(policy, signed)
    except Refused as refused:
        return _refusal(entry, policy, f"its {signed.label.split()[0]} signature is refused: {refused.reason}{_key(refused)}")


def _with_signers(new: LockFile, old: LockFile, signers: dict[str, Signer | TrustError | None], may_change: bool) -> tuple[LockFile, list[str]]:
    before = old.by_name()
    warnings: list[str] = []
    entries = []
    for entry in new.entries:
        signer = signers.get(entry.name)
        token = signer.token if isinstance(signer, Signer) else None
        was = before[entry.name].signer if entry.name in before else None
        if was and token and was != token:
            if not may_change:
                raise TrustError(f"{_what(entry)} is now signed by {token}, but the lock records {was}; nothing was changed: "
                                 f"run `salt-shaker update {entry.name}` (or with --enable-remote-check) to accept the new signer.",
                                 formula=entry.name, signer=token, locked_signer=was)
            warnings.append(f"{entry.name}: the signer changed from {was} to {token}.")
        entries.append(replace(entry, signer=token))
    return LockFile(entries=tuple(entries)), warnings


def _unsigned_reason(entry: LockEntry, policy: TrustPolicy, annotated: bool) -> str:
    if policy.require == "tag" and entry.kind != "tag":
        pinned = f"commit {entry.ref[:12]}" if entry.kind == "rev" else f"branch {entry.ref}"
        return f"it is pinned to {pinned}, and 'require: tag' accepts only a signed tag"
    if policy.require == "tag":
        return "it is an unsigned annotated tag; sign the tag (git tag -s)" if annotated else "it is a lightweight tag; 'require: tag' needs a signed annotated tag (git tag -s)"
    if policy.require == "commit":
        return f"its commit {entry.commit and entry.commit[:12]} is not signed; 'require: commit' needs a signed commit (git commit -S)"
    return "neither its tag nor its commit is signed"


def _refusal(entry: LockEntry, policy: TrustPolicy, reason: str) -> TrustError:
    return TrustError(f"{_what(entry)} is refused: {reason}; nothing was changed: pin a version signed by a key trusted under "
                      f"'trust' {policy.prefix}, or add its signer's key there.", formula=entry.name, ref=entry.ref)


def _first_of(refused: list[tuple[LockEntry, TrustError]]) -> TrustError:
    entry, error = min(refused, key=lambda item: item[0].name)
    if len(refused) > 1:
        others = ", ".join(sorted(e.name for e, _ in refused if e is not entry))
        return TrustError(f"{error.message} Also refused: {others}.", **error.data, refused=sorted(e.name for e, _ in refused))
    return error


def _what(entry: LockEntry) -> str:
    commit = f" ({entry.commit[:12]})" if entry.commit and entry.kind != "rev" else ""
    return f"{entry.name} {entry.kind} {entry.ref}{commit}" if entry.kind != "rev" else f"{entry.name} commit {entry.ref[:12]}"


def _key(refused: Refused) -> str:
    return f" (key {refused.key})" if refused.key else ""


def _tag_name(payload: bytes) -> str | None:
    for line in payload.split(b"\n"):
        if not line:
            break
        if line.startswith(b"tag "):
            return line[4:].decode(errors="replace")
    return None

