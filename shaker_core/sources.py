"""Formula names and git source URLs: parse, validate, map and redact.

``org/name-formula`` maps to a URL through a template (default
``git@github.com:{org}/{name}.git``); a dependency may give a full URL instead.
Only transports that cannot run local commands are accepted.
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_SOURCE_TEMPLATE = "git@github.com:{org}/{name}.git"

_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SCP_RE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/\\].*)$")
URL_SCHEMES = ("https", "http", "ssh", "git", "file")
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f]")  # exactly str.isspace() or a code point below 32


def looks_like_url(text: str) -> bool:
    """True when a dependency string starts with a git URL rather than ``org/name``."""
    return "://" in text or "::" in text or bool(_SCP_RE.match(text.split("==")[0].strip())) or text.startswith("-")


def check_name(name: str) -> str | None:
    """The reason a formula name is not ``<org>/<name>``, or None when it is fine."""
    if not name:
        return "is empty"
    if any(char.isspace() for char in name):
        return "contains a space"
    parts = name.split("/")
    if len(parts) != 2:
        return "must be '<org>/<name>' with exactly one '/'"
    for part in parts:
        if not part:
            return "has an empty part around '/'"
        if part in (".", ".."):
            return f"has '{part}' as a part, which cannot name a repository"
        if not _PART_RE.match(part):
            return f"has '{part}', but each part may only hold letters, digits, '.', '_' and '-' and cannot start with '.' or '-'"
    return None


def check_url(url: str) -> str | None:
    """The reason a git URL is refused, or None when it is acceptable."""
    if url.startswith("-"):
        return "starts with '-', which git would read as an option"
    if "::" in url.split("/")[0] or url.startswith(("ext:", "fd:")):
        return "uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://"
    if _SPACE_OR_CONTROL_RE.search(url):
        return "contains whitespace or control characters"
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            return f"uses transport '{scheme}'; use one of {', '.join(URL_SCHEMES)}"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad host or port
        except ValueError as exc:
            return f"is not a valid URL ({exc})"
        if parts.password is not None:
            return "holds a password; put credentials in the 'credentials' setting, never in metadata.yml or the lock"
        if parts.username is not None and scheme in ("https", "http"):  # https://<token>@host/... is how tokens travel
            return "holds a user name or token before '@'; put credentials in the 'credentials' setting, never in metadata.yml or the lock"
        return None if url_path(url) else "has no repository path"
    if _SCP_RE.match(url):
        return None
    return "is not a git URL (https://, ssh://, git@host:org/name.git or file://)"


def allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``url`` starts with one of the allowed source prefixes (all are allowed when none are set).

    A ``..`` path segment (also percent-encoded) is never allowed under a prefix: git would climb out of it.
    """
    if not prefixes:
        return True
    if ".." in re.split(r"[/\\:]", unquote(url)):
        return False
    return any(under_prefix(url, prefix) for prefix in prefixes)


def under_prefix(url: str, prefix: str) -> bool:
    """Whether ``url`` lies under ``prefix`` on a URL path boundary.

    ``https://git.example.com/org`` covers ``.../org`` and ``.../org/x.git``, never
    ``.../org-evil/x.git`` or ``https://git.example.com.evil.org/``.
    """
    if not url.startswith(prefix):
        return False
    return len(url) == len(prefix) or prefix.endswith(("/", ":")) or url[len(prefix)] == "/"


def url_path(url: str) -> str:
    """The repository path of a URL (``org/name.git`` of any form)."""
    if "://" in url:
        return urlsplit(url).path.strip("/")
    match = _SCP_RE.match(url)
    return match.group("path").strip("/") if match else ""


def name_from_url(url: str) -> str | None:
    """``org/name`` from the last two path parts of a URL, ``.git`` removed."""
    parts = [part for part in url_path(url).split("/") if part]
    if len(parts) < 2:
        return None
    name = parts[-1][:-4] if parts[-1].endswith(".git") else parts[-1]
    candidate = f"{parts[-2]}/{name}"
    return candidate if check_name(candidate) is None else None


def url_for(name: str, template: str = DEFAULT_SOURCE_TEMPLATE) -> str:
    """The source URL of ``org/name`` under a template with ``{org}`` and ``{name}``."""
    org, repo = name.split("/", 1)
    return template.format(org=org, name=repo, formula=name)


def redact(url: str) -> str:
    """The URL with any password or token removed, fit for messages and logs."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad host or port
    except ValueError:
        return re.sub(r"://[^/]*@", "://***@", url, count=1)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    shown_user = f"{user}:***@" if parts.password is not None else ("***@" if user and parts.scheme.startswith("http") else f"{user}@")
    return urlunsplit((parts.scheme, shown_user + host, parts.path, parts.query, parts.fragment))


def strip_credentials(url: str) -> str:
    """The URL without user info in http(s) URLs, for cache names (r10k does the same)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if not parts.scheme.startswith("http") or "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
