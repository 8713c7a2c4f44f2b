"""The release describes itself to minions: ``_shaker/release.json``, served as ``salt://_shaker/release.json``.

What a release serves is already named by its id; what it is *for* (the saltenv,
the project commit and its signer) is part of its identity too, so two saltenvs
or two project commits never share one description. A formula may not ship a
``_shaker/`` directory of its own: that path is the release's.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import LayoutError
from .sources import redact

RESERVED = "_shaker"
PATH = f"{RESERVED}/release.json"
FORMAT = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Context:
    """What a release is deployed for, beyond the formulas it pins."""

    saltenv: str | None = None
    project_commit: str | None = None
    project_signer: str | None = None

    @classmethod
    def of(cls, description: Mapping[str, Any]) -> Context:
        """The context a release description records."""
        return cls(saltenv=description.get("saltenv"), project_commit=description.get("project_commit"),
                   project_signer=description.get("project_signer"))

    def id_lines(self) -> list[str]:
        """What the release id digests of the context (nothing when none is set, as for a plain install)."""
        return [f"{key} {value}" for key, value in (("saltenv", self.saltenv), ("project", self.project_commit),
                                                    ("signer", self.project_signer)) if value]


NO_CONTEXT = Context()


def describe(release: str, context: Context, formulas: Mapping[str, Mapping[str, Any]], built: float | None = None) -> dict[str, Any]:
    """The description of a release: its id, what it is for, when it was built and each formula it pins."""
    return {
        "format": FORMAT,
        "release": release,
        "saltenv": context.saltenv,
        "project_commit": context.project_commit,
        "project_signer": context.project_signer,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built if built is not None else time.time())),
        "formulas": {
            name: {"tag": record["ref"], "commit": record["commit"], "source": redact(record["source"]), "exports": list(record.get("exports", ()))}
            for name, record in sorted(formulas.items())
        },
    }


def render(description: Mapping[str, Any]) -> str:
    """The bytes of ``_shaker/release.json`` (stable: the tree check compares them with what is served)."""
    return json.dumps(description, indent=2, sort_keys=True) + "\n"


def reserved_by(name: str, ref: str, module_dirs: Sequence[str]) -> str | None:
    """Why a formula collides with the release's own ``_shaker/`` (an export cannot: no export name starts with '_'), or None."""
    if RESERVED in module_dirs:
        return (f"{name} {ref} ships a '{RESERVED}/' directory, which salt-shaker reserves for the release description "
                f"(salt://{PATH}); rename it in the formula or pin a version without it.")
    return None


def parse(text: Any, saltenv: str) -> dict[str, Any]:
    """The description a minion read from ``salt://_shaker/release.json`` (``text`` is False when the fileserver has none)."""
    if not isinstance(text, str) or not text:
        raise LayoutError(f"The master serves no salt://{PATH} in saltenv '{saltenv}': no salt-shaker release is served there "
                          "(or it was built before releases described themselves); run install-pinned-versions or sync on the master.")
    try:
        description = json.loads(text)
    except ValueError:
        description = None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise LayoutError(f"salt://{PATH} in saltenv '{saltenv}' is not a salt-shaker release description (format {FORMAT}); "
                          "a formula or file_roots entry may shadow it: check the master's file_roots for that saltenv.")
    return description
