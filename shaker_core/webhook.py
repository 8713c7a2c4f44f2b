"""Verify and read git push webhooks (GitHub, GitLab, Gitea, generic HMAC). Pure.

The webhook engine and salt-api answer 200 to everyone and put the raw body on
the event bus, so the signature is checked here, over the exact bytes, in
constant time, before anything else is read. The payload is only a trigger:
it says which repository changed; what is deployed is always fetched from git.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import ShakerError

DEFAULT_GENERIC_HEADER = "X-Shaker-Signature"
DEFAULT_MAX_BODY = 1024 * 1024


class WebhookRejected(ShakerError):
    """A request whose signature is missing or wrong, or whose body cannot be read."""

    exit_code = 2
    kind = "webhook-rejected"


@dataclass(frozen=True, kw_only=True, slots=True)
class WebhookSettings:
    """The secret(s) and limits: ``shaker:webhook`` in the master config."""

    secret: str
    gitlab_token: str | None = None
    generic_header: str = DEFAULT_GENERIC_HEADER
    max_body_bytes: int = DEFAULT_MAX_BODY

    @classmethod
    def from_mapping(cls, data: Any) -> WebhookSettings:
        """Read ``shaker:webhook``; a missing secret refuses every request."""
        if not isinstance(data, Mapping) or not data.get("secret"):
            raise WebhookRejected("No webhook secret is configured (shaker:webhook:secret in the master config); every push is refused until one is set.")
        return cls(
            secret=str(data["secret"]),
            gitlab_token=str(data["gitlab_token"]) if data.get("gitlab_token") else None,
            generic_header=str(data.get("header") or DEFAULT_GENERIC_HEADER),
            max_body_bytes=int(data.get("max_body_bytes") or DEFAULT_MAX_BODY),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Push:
    """What a verified request says: who sent it, what kind of event, which repository and ref."""

    provider: str
    event: str
    ref: str
    repository_urls: tuple[str, ...]
    delivery: str | None
    after: str | None

    @property
    def is_push(self) -> bool:
        return self.event in ("push", "tag_push")

    @property
    def branch(self) -> str | None:
        return self.ref[len("refs/heads/"):] if self.ref.startswith("refs/heads/") else None

    @property
    def tag(self) -> str | None:
        return self.ref[len("refs/tags/"):] if self.ref.startswith("refs/tags/") else None


def raw_parts(event_data: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers (lower-cased names) and the raw body bytes from a webhook-engine or salt-api event."""
    headers = {str(k).lower(): str(v) for k, v in (event_data.get("headers") or {}).items()}
    body = event_data.get("body")
    if body is None or isinstance(body, Mapping):
        body = event_data.get("raw_body", "")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise WebhookRejected("The event carries no raw body; pass the webhook event data unchanged to shaker.webhook.")
    return headers, bytes(body)


def verify(headers: Mapping[str, str], body: bytes, settings: WebhookSettings) -> str:
    """Check the request's signature; return the provider (github, gitea, gitlab, generic)."""
    if len(body) > settings.max_body_bytes:
        raise WebhookRejected(f"The request body is {len(body)} bytes, over the limit of {settings.max_body_bytes} (shaker:webhook:max_body_bytes); it was ignored.")
    checks = (
        ("github", "x-hub-signature-256", "sha256="),
        ("gitea", "x-gitea-signature", ""),
        ("generic", settings.generic_header.lower(), "sha256="),
    )
    for provider, header, prefix in checks:
        if header in headers:
            expected = prefix + hmac.new(settings.secret.encode(), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(headers[header].strip().encode(), expected.encode()):
                return provider
            raise WebhookRejected(f"The {header} signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret.")
    if "x-gitlab-token" in headers:
        token = (settings.gitlab_token or settings.secret).encode()
        if hmac.compare_digest(headers["x-gitlab-token"].encode(), token):
            return "gitlab"
        raise WebhookRejected("The X-Gitlab-Token does not match; check the secret token on GitLab and in shaker:webhook.")
    raise WebhookRejected("The request has no signature (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or the generic header); it was ignored.")


def parse(provider: str, headers: Mapping[str, str], body: bytes) -> Push:
    """Read a verified request's payload."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected("The signed request body is not JSON; configure the webhook to send application/json.") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The signed request body is not a JSON object.")
    ref = str(payload.get("ref") or "")
    return Push(
        provider=provider,
        event=_event_kind(provider, headers, ref),
        ref=ref,
        repository_urls=_repository_urls(payload),
        delivery=headers.get("x-github-delivery") or headers.get("x-gitea-delivery") or headers.get("x-gitlab-event-uuid") or headers.get("x-request-id"),
        after=str(payload.get("after") or payload.get("checkout_sha") or "") or None,
    )


def _event_kind(provider: str, headers: Mapping[str, str], ref: str) -> str:
    name = (headers.get("x-github-event") or headers.get("x-gitea-event") or headers.get("x-gitlab-event") or headers.get("x-shaker-event") or "push").lower()
    if name in ("push", "push hook", "tag push hook", "system hook"):
        return "tag_push" if ref.startswith("refs/tags/") else "push"
    return name


def _repository_urls(payload: Mapping[str, Any]) -> tuple[str, ...]:
    urls: list[str] = []
    for section in ("repository", "project"):
        data = payload.get(section)
        if isinstance(data, Mapping):
            for key in ("clone_url", "ssh_url", "git_url", "html_url", "url", "git_http_url", "git_ssh_url", "web_url", "homepage"):
                value = data.get(key)
                if isinstance(value, str) and value and value not in urls:
                    urls.append(value)
    return tuple(urls)


_SCP = re.compile(r"^(?:[^@/]+@)?([^:/]+):(.+)$")


def repository_key(url: str) -> str:
    """``host/org/name`` of any URL form, lower-cased host and no ``.git``, to compare repositories."""
    if "://" in url:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path
    else:
        match = _SCP.match(url)
        host, path = (match.group(1).lower(), match.group(2)) if match else ("", url)
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host}/{path}"
