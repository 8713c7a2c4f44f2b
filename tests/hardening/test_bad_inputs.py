"""A catalogue of bad inputs: each is refused with one exact sentence and the documented exit code, and changes nothing.

A project is published once from the small forge plus a set of hostile formula
repositories (see :func:`add_hostile_formulas`). Every case runs the real
``salt-shaker`` command line on its own copy of that published project, with one bad
input in place (metadata.yml, formula-requirements.txt, shaker.yml, or a dependency on
a hostile formula), and checks:

- the exit code (README: 2 usage or setting, 3 manifest or lock, 4 resolution or a
  limit, 5 git, 6 layout),
- the exact one-line message on stderr, no traceback, nothing on stdout,
- nothing changed: lock bytes, the ``_root`` link target, the set of releases and every
  other file under the project (the run records excepted, see hardkit).

The cases run as separate processes, four at a time, in a module fixture; each
parametrized test then judges one case. Webhook requests are checked through
``shaker_core.gitops.on_push`` directly (the Salt faces are covered by tests/gitops).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hardkit import APP, LIB, assert_unchanged, build_small_forge, copy_project, disk_state, make_project, one_line_error
from helpers.forge import Forge, Link
from helpers.run import Result, shaker

from shaker_core import gitops
from shaker_core.settings import Settings
from shaker_core.webhook import WebhookRejected

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OPERATORS = "use one of ==, !=, >=, <=, >, <"
NAME_HINT = "write '<org>/<name>-formula'"
PART_RULE = "but each part may only hold letters, digits, '.', '_' and '-' and cannot start with '.' or '-'"
EXPORT_RULE = "is not a safe directory name; use letters, digits, '.', '_' and '-', not starting with '_', '.' or '-'."
PASSWORD = "Hunter2-Catalogue-Secret"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
HOSTILE = ("dotgit", "gitfile", "upper", "topgit", "shadow", "climb", "sideways", "dotdot", "exports", "absexport", "badref", "bomb", "tunnel", "modtunnel")
# A link whose text stays inside (40 directories down, then 41 '..'), but which climbs through
# 'shallow', a directory link back to the top: on disk it lands on /etc/passwd.
DEEP = "/".join(f"d{i}" for i in range(40))
TUNNEL = "shallow/" + "../" * 41 + "etc/passwd"


def add_hostile_formulas(forge: Forge) -> None:
    """Formula repositories a hostile or careless author could publish; each has the tag v1.0.0."""
    for name, entries in {
        "dotgit": {"dotgit/init.sls": "x: 1\n", "dotgit/.git/config": "[core]\n\tfsmonitor = touch /tmp/pwned\n"},
        "gitfile": {"gitfile/init.sls": "x: 1\n", "gitfile/.git": "gitdir: /etc\n"},
        "upper": {"upper/init.sls": "x: 1\n", "upper/.Git/HEAD": "ref: refs/heads/main\n"},
        "topgit": {"topgit/init.sls": "x: 1\n", ".git": "gitdir: /etc\n"},  # outside the export: the store holds the whole tree
        "dotdot": {"dotdot/init.sls": "x: 1\n", "dotdot/../escape.sls": "x: 1\n"},  # git mktree accepts a '..' entry
    }.items():
        forge.formula(f"org/{name}-formula").raw_commit(entries, "refs/tags/v1.0.0")
    forge.formula("org/shadow-formula", {"shadow/init.sls": "x: 1\n", "shadow/secrets": Link("/etc/shadow")}, tag="v1.0.0")
    forge.formula("org/climb-formula", {"climb/init.sls": "x: 1\n", "climb/up": Link("../../../../../../etc/passwd")}, tag="v1.0.0")
    for name, top in (("tunnel", "tunnel"), ("modtunnel", "_modules")):
        forge.formula(f"org/{name}-formula", {
            f"{name}/init.sls" if top == "_modules" else "tunnel/init.sls": "x: 1\n",
            f"{top}/{DEEP}/keep": "x\n",
            f"{top}/{DEEP}/shallow": Link("../" * 40),
            f"{top}/{DEEP}/secret": Link(TUNNEL),
        }, tag="v1.0.0")
    forge.formula("org/sideways-formula", {"sideways/init.sls": "x: 1\n", "sideways/readme": Link("../README.md"), "README.md": "x\n"}, tag="v1.0.0")
    forge.formula("org/exports-formula", {"exports/init.sls": "x: 1\n"}, metadata={"exports": [".."]}, tag="v1.0.0")
    forge.formula("org/absexport-formula", {"absexport/init.sls": "x: 1\n"}, metadata={"exports": ["/etc"]}, tag="v1.0.0")
    badref = forge.formula("org/badref-formula", {"badref/init.sls": "x: 1\n"}, tag="v1.0.0")
    (badref.bare / "refs" / "tags" / "v2..0").write_text(badref.head() + "\n")  # git itself refuses to create this ref
    bomb = forge.formula("org/bomb-formula", {"bomb/init.sls": "x: 1\n"})
    bomb.commit({"metadata.yml": BOMB})
    bomb.tag("v1.0.0")


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # metadata, lock, settings, dependency
    data: Any
    code: int
    message: str  # <FORGE>, <ROOT>, <CACHE> and <C:name> (the 12-hex commit of org/<name>-formula v1.0.0) are filled in
    argv: tuple[str, ...] = ("install",)
    secret: str | None = None  # must appear nowhere in the output


def meta(text: str | bytes, code: int, message: str, **kw: Any) -> Case:
    return Case("", "metadata", text, code, message, **kw)


def deps(*entries: Any) -> str:
    return yaml.safe_dump({"dependencies": [APP, *entries]}, sort_keys=False, width=10_000_000)


def one(entry: str) -> str:
    """metadata.yml with one dependency line written as is (YAML single-quoted)."""
    return "dependencies:\n  - '" + entry.replace("'", "''") + "'\n"


def label(text: str) -> str:
    return f"metadata.yml: dependency 1 ('{text}')"


TEN_THOUSAND = "dependencies:\n" + "".join(f"  - org/f{i}-formula\n" for i in range(10_000))
MEGABYTE = "dependencies:\n  - '" + "a" * (1 << 20) + "'\n"

METADATA_CASES = {
    "invalid YAML": meta("dependencies: [\n", 3, "metadata.yml: line 2, column 1 is not valid YAML (expected the node content, but found '<stream end>'); fix the syntax."),
    "tab indentation": meta("\tdependencies: []\n", 3, "metadata.yml: line 1, column 1 is not valid YAML (found character '\\t' that cannot start any token); fix the syntax."),
    "empty file": meta("", 3, "metadata.yml is empty; list the formulas under 'dependencies:'."),
    "only a comment": meta("   \n# nothing yet\n", 3, "metadata.yml is empty; list the formulas under 'dependencies:'."),
    "a list, not a mapping": meta(f"- {APP}\n", 3, "metadata.yml must be a mapping with 'dependencies:' and optional 'formula:' and 'exports:', not a list."),
    "dependencies a number": meta("dependencies: 5\n", 3, "metadata.yml: 'dependencies' must be a list, not a number."),
    "dependencies a mapping": meta(f"dependencies: {{{APP}: v1}}\n", 3, "metadata.yml: 'dependencies' must be a list, not a mapping."),
    "dependency a number": meta(f"dependencies: [{APP}, 12]\n", 3, "metadata.yml: dependency 2 (12) is a number; write 'org/name-formula>=v1.0' or a mapping with 'name:'."),
    "operator =>": meta(one(f"{APP}=>v1.0.0"), 3, f"{label(APP + '=>v1.0.0')} uses unknown operator '=>'; {OPERATORS}."),
    "operator ~=": meta(one(f"{APP}~=v1.0.0"), 3, f"{label(APP + '~=v1.0.0')} uses unknown operator '~='; {OPERATORS}."),
    "operator ===": meta(one(f"{APP}===v1.0.0"), 3, f"{label(APP + '===v1.0.0')} uses unknown operator '==='; {OPERATORS}."),
    "float version": meta(
        f"dependencies:\n  - {{name: {APP}, version: 1.10}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, version: 1.10}}): 'version' is a number, not a string; quote it ('1.10') so it is read as text.",
    ),
    "integer version": meta(
        f"dependencies:\n  - {{name: {APP}, version: 2}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, version: 2}}): 'version' is a number, not a string; quote it ('2') so it is read as text.",
    ),
    "empty clause": meta(one(f"{APP}>=v1.0,"), 3, f"{label(APP + '>=v1.0,')} has an empty clause between commas."),
    "space in a version": meta(one(f"{APP}>=v 1.0"), 3, f"{label(APP + '>=v 1.0')} has a space inside 'v 1.0'."),
    "branch with ..": meta(one(f"{APP}==dev..x"), 3, f"{label(APP + '==dev..x')} names 'dev..x', which is neither a version nor a valid branch name."),
    "name with ..": meta(one("org/../app-formula"), 3, f"{label('org/../app-formula')}: the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
    "name part ..": meta(one("org/.."), 3, f"{label('org/..')}: the name has '..' as a part, which cannot name a repository; {NAME_HINT}."),
    "leading slash": meta(one(f"/{APP}"), 3, f"{label('/' + APP)}: the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
    "trailing slash": meta(one(f"{APP}/"), 3, f"{label(APP + '/')}: the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
    "leading dot": meta(one(".org/app-formula"), 3, f"{label('.org/app-formula')}: the name has '.org', {PART_RULE}; {NAME_HINT}."),
    "space in a name": meta(one("org/app formula"), 3, f"{label('org/app formula')}: the name contains a space; {NAME_HINT}."),
    "shell: ;rm -rf /": meta(one("org/a;rm -rf /"), 3, f"{label('org/a;rm -rf /')}: the name contains a space; {NAME_HINT}."),
    "shell: ;id": meta(one("org/a;id"), 3, f"{label('org/a;id')}: the name has 'a;id', {PART_RULE}; {NAME_HINT}."),
    "shell: $()": meta(one("org/$(touch${IFS}pwned)"), 3, f"{label('org/$(touch${IFS}pwned)')}: the name has '$(touch${{IFS}}pwned)', {PART_RULE}; {NAME_HINT}."),
    "shell: backticks": meta(one("org/`id`"), 3, f"{label('org/`id`')}: the name has '`id`', {PART_RULE}; {NAME_HINT}."),
    "shell: pipe": meta(one("org/a|sh"), 3, f"{label('org/a|sh')}: the name has 'a|sh', {PART_RULE}; {NAME_HINT}."),
    "terminal escape in a name": meta(
        'dependencies:\n  - "org/a\\e[2J\\e]0;owned\\a"\n', 3,
        "metadata.yml: dependency 1 ('org/a\\x1b[2J\\x1b]0;owned\\x07'): the name has 'a\\x1b[2J\\x1b]0;owned\\x07', "
        f"{PART_RULE}; {NAME_HINT}.",
    ),
    "a 1 MB string": meta(MEGABYTE, 3, f"metadata.yml is {len(MEGABYTE)} bytes, over the limit of 524288; shorten it or raise the 'max_manifest_bytes' setting."),
    "10,000 dependencies": meta(TEN_THOUSAND, 4, "The dependency graph names more than 5000 formulas; raise the 'max_formulas' setting if that is intended."),
    "10,000 invalid dependencies": meta(
        "dependencies:\n" + "".join(f"  - org/f{i}=>v1\n" for i in range(10_000)), 3,
        f"metadata.yml: dependency 1 ('org/f0=>v1') uses unknown operator '=>'; {OPERATORS}.",
    ),
    "deep flow nesting": meta("dependencies: " + "[" * 5000 + "]" * 5000 + "\n", 3, "metadata.yml is nested too deeply; flatten it."),
    "dependencies twice": meta(
        "dependencies:\n  - org/app-formula\nexports: [x]\ndependencies:\n  - org/lib-formula\n", 3,
        "metadata.yml: the key 'dependencies' is given twice (lines 1 and 4); keep one of them.",
    ),
    "a mapping key twice": meta(
        "dependencies:\n  - {name: org/app-formula, version: '>=v1.0.0', version: '<v0.1'}\n", 3,
        "metadata.yml: the key 'version' is given twice (lines 2 and 2); keep one of them.",
    ),
    "deep block nesting": meta("dependencies:\n" + "".join("  " * i + "-\n" for i in range(150)), 3, "metadata.yml is nested too deeply; flatten it."),
    "YAML alias bomb": meta(BOMB, 3, "metadata.yml: line 2 uses a YAML alias (*a); write the value out instead."),
    "python object tag": meta(
        "dependencies:\n  - !!python/object/apply:os.system ['touch /tmp/pwned']\n", 3,
        "metadata.yml: line 2, column 5 is not valid YAML (could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'); fix the syntax.",
    ),
    "non-UTF-8 bytes": meta(b"dependencies:\n  - org/app-formula\xff\n", 3, "metadata.yml is not valid UTF-8 (byte 0xff at offset 33); save it as UTF-8."),
    "latin-1 text": meta("# café\ndependencies: []\n".encode("latin-1"), 3, "metadata.yml is not valid UTF-8 (byte 0xe9 at offset 5); save it as UTF-8."),
    "NUL bytes": meta(b"dependencies:\x00 []\n", 3, "metadata.yml is not valid YAML (character U+0000 at offset 13 is not allowed in YAML); remove it."),
    "formula: a list": meta("formula: [x]\ndependencies: []\n", 3, "metadata.yml: 'formula' must be a string like 'my_org/local-formula', not a list."),
    "exports ../etc": meta("exports: ['../etc']\ndependencies: []\n", 3, f"metadata.yml: export 1 ('../etc') {EXPORT_RULE}"),
    "exports /etc": meta("exports: ['/etc']\ndependencies: []\n", 3, f"metadata.yml: export 1 ('/etc') {EXPORT_RULE}"),
    "unknown mapping key": meta(
        f"dependencies:\n  - {{name: {APP}, tag: v1}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, tag: v1}}) has unknown key 'tag'; use name, version, branch, rev, source.",
    ),
    "rev not 40 hex": meta(
        f"dependencies:\n  - {{name: {APP}, rev: '{COMMIT[:39]}g'}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, rev: {COMMIT[:39]}g}}): rev '{COMMIT[:39]}g' is not a full 40-hex commit id.",
    ),
    # sources
    "source ext::": meta(
        f"dependencies:\n  - {{name: {APP}, source: 'ext::sh -c touch% /tmp/pwned'}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, source: ext::sh -c touch% /tmp/pwned}}): the source URL uses a git remote helper "
        "('<transport>::'), which can run commands; use https://, ssh:// or file://.",
    ),
    "URL ext:: as a string": meta(
        one("ext::sh -c touch% /tmp/pwned"), 3,
        f"{label('ext::sh -c touch% /tmp/pwned')}: the source URL uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://.",
    ),
    "URL fd::": meta(
        one("fd::17/org/app-formula"), 3,
        f"{label('fd::17/org/app-formula')}: the source URL uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://.",
    ),
    "URL starting with -": meta(
        one("--upload-pack=touch /tmp/pwned"), 3, f"{label('--upload-pack=touch /tmp/pwned')}: the source URL starts with '-', which git would read as an option.",
    ),
    "URL starting with - and a constraint": meta(
        one("-oProxyCommand=sh>=v1"), 3, f"{label('-oProxyCommand=sh>=v1')}: the source URL starts with '-', which git would read as an option.",
    ),
    "source starting with -": meta(
        f"dependencies:\n  - {{name: {APP}, source: '-oProxyCommand=touch /tmp/pwned'}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, source: -oProxyCommand=touch /tmp/pwned}}): the source URL starts with '-', which git would read as an option.",
    ),
    "URL ftp://": meta(one("ftp://host/org/app-formula.git"), 3, f"{label('ftp://host/org/app-formula.git')}: the source URL uses transport 'ftp'; use one of https, http, ssh, git, file."),
    "password in a URL": meta(
        one(f"https://deploy:{PASSWORD}@git.example.com/org/app-formula.git"), 3,
        f"{label('https://deploy:***@git.example.com/org/app-formula.git')}: the source URL holds a password; "
        "put credentials in the 'credentials' setting, never in metadata.yml or the lock.",
        secret=PASSWORD,
    ),
    "token as the user of a URL": meta(
        one(f"https://{PASSWORD}@git.example.com/org/app-formula.git"), 3,
        f"{label('https://***@git.example.com/org/app-formula.git')}: the source URL holds a user name or token before '@'; "
        "put credentials in the 'credentials' setting, never in metadata.yml or the lock.",
        secret=PASSWORD,
    ),
    "password in a source with a bad version": meta(
        f"dependencies:\n  - {{name: {APP}, source: 'https://deploy:{PASSWORD}@git.example.com/org/app-formula.git', version: 1.0}}\n", 3,
        f"metadata.yml: dependency 1 ({{name: {APP}, source: https://deploy:***@git.example.com/org/app-fo...): "  # the entry is shortened to 80 characters
        "'version' is a number, not a string; quote it ('1.0') so it is read as text.",
        secret=PASSWORD,
    ),
}

LOCK_LINE = "org/app-formula==v1.0.0 "
LOCK_CASES = {
    "no ==": ("org/app-formula\n", "formula-requirements.txt line 1 ('org/app-formula') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
    "a range": ("org/app-formula>=v1.0.0\n", "formula-requirements.txt line 1 ('org/app-formula>=v1.0.0') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
    "==> range": ("org/app-formula==>v1.0.0\n", "formula-requirements.txt line 1 ('org/app-formula==>v1.0.0') uses a range; a lock pins each formula with exactly '=='."),
    "nothing after ==": ("org/app-formula==\n", "formula-requirements.txt line 1 has nothing after '=='; give the tag, branch or commit."),
    "empty name": ("==v1.0.0\n", "formula-requirements.txt line 1: the formula name '' is empty."),
    "name with ..": ("org/../app==v1.0.0\n", "formula-requirements.txt line 1: the formula name 'org/../app' must be '<org>/<name>' with exactly one '/'."),
    "ref with ..": ("org/app-formula==a..b\n", "formula-requirements.txt line 1: 'a..b' is neither a version tag, a branch nor a commit id."),
    "ref with ;": ("org/app-formula==v1.0.0;rm -rf /\n", "formula-requirements.txt line 1: 'v1.0.0;rm' is neither a version tag, a branch nor a commit id."),
    "commit of 39 hex": (
        f"{LOCK_LINE}{COMMIT[:39]}\n",
        f"formula-requirements.txt line 1: '{COMMIT[:39]}' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock.",
    ),
    "commit of 41 hex": (
        f"{LOCK_LINE}{COMMIT}0\n",
        f"formula-requirements.txt line 1: '{COMMIT}0' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock.",
    ),
    "commit with a non-hex letter": (
        f"{LOCK_LINE}{COMMIT[:39]}z\n",
        f"formula-requirements.txt line 1: '{COMMIT[:39]}z' is not a 40-hex commit id; run `salt-shaker install` to rewrite the lock.",
    ),
    "four fields": (
        f"{LOCK_LINE}{COMMIT} https://git.example.com/org/app-formula.git extra\n",
        "formula-requirements.txt line 1 has 4 fields; expected '<name>==<tag> <commit> [<source URL>]'.",
    ),
    "duplicate entries": (
        f"{LOCK_LINE}{COMMIT}\n# again:\n{LOCK_LINE}{COMMIT}\n",
        "formula-requirements.txt line 3 pins org/app-formula again (first on line 1); keep one line per formula.",
    ),
    "duplicate through a legacy URL": (
        f"{LOCK_LINE}{COMMIT}\ngit@github.com:org/app-formula.git==v1.0.0\n",
        "formula-requirements.txt line 2 pins org/app-formula again (first on line 1); keep one line per formula.",
    ),
    "source ext::": (
        f"{LOCK_LINE}{COMMIT} ext::sh\n",
        "formula-requirements.txt line 1: the source URL uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://.",
    ),
    "source starting with -": (f"{LOCK_LINE}{COMMIT} -uhttps://x/org/a.git\n", "formula-requirements.txt line 1: the source URL starts with '-', which git would read as an option."),
    "legacy URL starting with -": (
        "-oProxyCommand=x/a==v1.0.0\n",
        "formula-requirements.txt line 1: '-oProxyCommand=x/a' is not a usable git URL (starts with '-', which git would read as an option).",
    ),
    "password in a source": (
        f"{LOCK_LINE}{COMMIT} https://u:{PASSWORD}@host/org/app-formula.git\n",
        "formula-requirements.txt line 1: the source URL holds a password; put credentials in the 'credentials' setting, never in metadata.yml or the lock.",
    ),
    "token in a source": (
        f"{LOCK_LINE}{COMMIT} https://{PASSWORD}@host/org/app-formula.git\n",
        "formula-requirements.txt line 1: the source URL holds a user name or token before '@'; put credentials in the 'credentials' setting, "
        "never in metadata.yml or the lock.",
    ),
    "non-UTF-8": (b"org/app-formula==v1.0.0 \xff\n", "formula-requirements.txt is not valid UTF-8 (byte 0xff at offset 24); restore it from version control."),
    "terminal escape": (
        "org/app-formula==v1\x1b[2J\n",
        "formula-requirements.txt line 1: 'v1\\x1b[2J' is neither a version tag, a branch nor a commit id.",
    ),
    "NUL": ("\x00\n", "formula-requirements.txt line 1 ('\\x00') is not '<org>/<name>==<tag>'; a lock pins each formula with '=='."),
    "empty": ("", "formula-requirements.txt in <ROOT> is missing or empty; run `salt-shaker install` to create it (nothing was changed)."),
    "comments only": ("# pinned: nothing\n\n", "formula-requirements.txt in <ROOT> is missing or empty; run `salt-shaker install` to create it (nothing was changed)."),
}
LOCK_GIT_CASES = {  # well-formed lines naming what the source does not have: git errors, exit 5
    "unknown commit": (
        f"{LOCK_LINE}{'0' * 40}\n",
        f"org/app-formula (file://<FORGE>/org/app-formula.git) has no commit {'0' * 40}; the lock names a commit the source no longer has.",
    ),
    "unknown tag": ("org/app-formula==v9.9.9\n", "org/app-formula has no tag 'v9.9.9' at file://<FORGE>/org/app-formula.git; run `salt-shaker update org/app-formula`."),
}

TEMPLATE_RULE = "; it may only use the placeholders {org}, {name} and {formula}, and other braces are written twice ({{ }})."
SETTINGS_CASES = {  # shaker.yml values, exit 2
    "source_template ext::": (
        {"source_template": "ext::sh -c touch% /tmp/pwned-{org}-{name}"},
        "shaker.yml: 'source_template' (ext::sh -c touch% /tmp/pwned-{org}-{name}) uses a git remote helper ('<transport>::'), "
        "which can run commands; use https://, ssh:// or file://.",
    ),
    "source_template starting with -": (
        {"source_template": "--upload-pack=touch /tmp/pwned {org}/{name}"},
        "shaker.yml: 'source_template' (--upload-pack=touch /tmp/pwned {org}/{name}) starts with '-', which git would read as an option.",
    ),
    "source_template fd::": (
        {"source_template": "fd::3/{org}/{name}"},
        "shaker.yml: 'source_template' (fd::3/{org}/{name}) uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://.",
    ),
    "source_template ftp://": (
        {"source_template": "ftp://git.example.com/{org}/{name}.git"},
        "shaker.yml: 'source_template' (ftp://git.example.com/{org}/{name}.git) uses transport 'ftp'; use one of https, http, ssh, git, file.",
    ),
    "source_template with a password": (
        {"source_template": f"https://deploy:{PASSWORD}@git.example.com/{{org}}/{{name}}.git"},
        "shaker.yml: 'source_template' (https://deploy:***@git.example.com/{org}/{name}.git) holds a password; "
        "put credentials in the 'credentials' setting, never in metadata.yml or the lock.",
    ),
    "source_template with a token": (
        {"source_template": f"https://{PASSWORD}@git.example.com/{{org}}/{{name}}.git"},
        "shaker.yml: 'source_template' (https://***@git.example.com/{org}/{name}.git) holds a user name or token before '@'; "
        "put credentials in the 'credentials' setting, never in metadata.yml or the lock.",
    ),
    "source_template unknown placeholder": (
        {"source_template": "https://git.example.com/{org}/{repo}.git"},
        "shaker.yml: 'source_template' has an unknown placeholder ({repo})" + TEMPLATE_RULE,
    ),
    "source_template format spec": ({"source_template": "https://h/{org:>9}/{name}.git"}, "shaker.yml: 'source_template' has a format spec or conversion ({org:>9})" + TEMPLATE_RULE),
    "source_template attribute": ({"source_template": "https://h/{org.__class__}/{name}.git"}, "shaker.yml: 'source_template' has an attribute or index ({org.__class__})" + TEMPLATE_RULE),
    "source_template positional": ({"source_template": "https://h/{org}/{0}.git"}, "shaker.yml: 'source_template' has a positional field ({0})" + TEMPLATE_RULE),
    "source_template unbalanced": ({"source_template": "https://h/{org}/{name.git"}, "shaker.yml: 'source_template' has an unbalanced brace" + TEMPLATE_RULE),
    "allowed_sources empty": (
        {"allowed_sources": []},
        "shaker.yml: 'allowed_sources' is an empty list, which would allow no source at all; list the URL prefixes to allow, or remove the setting to allow any source.",
    ),
    "jobs 0": ({"jobs": 0}, "shaker.yml: 'jobs' must be at least 1, not 0."),
    "negative max_formula_bytes": ({"max_formula_bytes": -5}, "shaker.yml: 'max_formula_bytes' must be at least 1, not -5."),
    "negative max_formulas": ({"max_formulas": -1}, "shaker.yml: 'max_formulas' must be at least 1, not -1."),
    "negative git_timeout": ({"git_timeout": -3}, "shaker.yml: 'git_timeout' must be a number of seconds above 0, not -3.0."),
    "zero lock_timeout": ({"lock_timeout": 0}, "shaker.yml: 'lock_timeout' must be a number of seconds above 0, not 0.0."),
    "nan git_timeout": ({"git_timeout": ".nan"}, "shaker.yml: 'git_timeout' has the value '.nan'; use a finite number."),
    "inf lock_timeout": ({"lock_timeout": float("inf")}, "shaker.yml: 'lock_timeout' has the value inf; use a finite number."),
    "salt_version that is no version": (
        {"salt_version": "Sodium", "strict_minimum_version": True},
        "shaker.yml: 'salt_version' (Sodium) is not a version like 3006.9; strict_minimum_version compares with it.",
    ),
    "allowed_sources not a list": (
        {"allowed_sources": {"file:///": True}},
        "shaker.yml: 'allowed_sources' must be a list of URL prefixes, like ['https://git.example.com/', 'file:///srv/forge/'].",
    ),
}

ALLOWED = "file://<FORGE>/org/"
ALLOWED_CASES = {  # with allowed_sources: [file://<forge>/org/]: sources elsewhere are refused before git is run, exit 5
    "file:// outside the allowed prefix": (
        "file:///etc/evil/passwd-formula.git",
        f"evil/passwd-formula (file:///etc/evil/passwd-formula.git) is not under an allowed source prefix ({ALLOWED}); "
        "add its prefix to the 'allowed_sources' setting if it is trusted.",
    ),
    "file:// climbing out with ..": (
        "file://<FORGE>/org/../../../etc/evil/passwd-formula.git",
        f"evil/passwd-formula (file://<FORGE>/org/../../../etc/evil/passwd-formula.git) is not under an allowed source prefix ({ALLOWED}); "
        "add its prefix to the 'allowed_sources' setting if it is trusted.",
    ),
    "file:// climbing out with %2e%2e": (
        "file://<FORGE>/org/%2e%2e/%2e%2e/evil/passwd-formula.git",
        f"evil/passwd-formula (file://<FORGE>/org/%2e%2e/%2e%2e/evil/passwd-formula.git) is not under an allowed source prefix ({ALLOWED}); "
        "add its prefix to the 'allowed_sources' setting if it is trusted.",
    ),
    "https elsewhere": (
        "https://evil.example.com/org/app-formula.git",
        f"org/app-formula (https://evil.example.com/org/app-formula.git) is not under an allowed source prefix ({ALLOWED}); "
        "add its prefix to the 'allowed_sources' setting if it is trusted.",
    ),
}

DEPENDENCY_CASES = {  # the project also depends on a hostile formula (v1.0.0): refused when it is read or exported
    "dotgit": (6, "org/dotgit-formula v1.0.0 contains 'dotgit/.git'; salt-shaker never publishes .git: remove it from the formula."),
    "gitfile": (6, "org/gitfile-formula v1.0.0 contains 'gitfile/.git'; salt-shaker never publishes .git: remove it from the formula."),
    "topgit": (6, "org/topgit-formula v1.0.0 contains '.git'; salt-shaker never publishes .git: remove it from the formula."),
    "upper": (6, "org/upper-formula v1.0.0 contains 'upper/.Git'; salt-shaker never publishes .git: remove it from the formula."),
    "shadow": (6, "org/shadow-formula v1.0.0 has a symlink 'shadow/secrets' pointing outside the formula (/etc/shadow); salt-shaker refuses to publish it."),
    "climb": (6, "org/climb-formula v1.0.0 has a symlink 'climb/up' pointing outside the formula (../../../../../../etc/passwd); salt-shaker refuses to publish it."),
    "sideways": (6, "org/sideways-formula v1.0.0: the symlink 'sideways/readme' points outside what the formula publishes there (../README.md); "
                    "salt-shaker refuses to publish it."),
    "tunnel": (6, f"org/tunnel-formula v1.0.0: the symlink 'tunnel/{DEEP}/secret' ({TUNNEL}) resolves outside the formula; "
                  "salt-shaker refuses to publish it: make the link point at a file of the formula itself."),
    "modtunnel": (6, f"org/modtunnel-formula v1.0.0: the symlink '_modules/{DEEP}/secret' ({TUNNEL}) resolves outside the formula; "
                     "salt-shaker refuses to publish it: make the link point at a file of the formula itself."),
    "dotdot": (6, "org/dotdot-formula v1.0.0 has an unsafe path 'dotdot/..'; salt-shaker refuses to publish it."),
    "exports": (3, f"org/exports-formula v1.0.0: metadata.yml at <C:exports>: export 1 ('..') {EXPORT_RULE}"),
    "absexport": (3, f"org/absexport-formula v1.0.0: metadata.yml at <C:absexport>: export 1 ('/etc') {EXPORT_RULE}"),
    "badref": (
        5,
        "Fetching org/badref-formula (file://<FORGE>/org/badref-formula.git) failed: <LIBGIT2>; check that the source exists and is reachable.",
    ),
    "bomb": (3, "org/bomb-formula v1.0.0: metadata.yml at <C:bomb>: line 2 uses a YAML alias (*a); write the value out instead."),
}


NO_ENVIRONMENTS = ("saltenv 'dev' was given, but metadata.yml declares no 'environments:'; "
                   "drop --saltenv (or the saltenv setting), or declare the environment under 'environments:'.")
ARGV_CASES = {  # command lines the project does not fit, exit 2
    "--saltenv on a project without environments": (("--saltenv", "dev", "install"), NO_ENVIRONMENTS),
    "--saltenv update on a project without environments": (("--saltenv", "dev", "update", APP), NO_ENVIRONMENTS),
    "--saltenv status on a one-environment root": (
        ("--saltenv", "dev", "status"),
        "saltenv 'dev' was given, but <ROOT>/vendor/_root serves one environment (a link to a release); drop --saltenv (or the saltenv setting).",
    ),
}


def all_cases() -> dict[str, Case]:
    cases = {f"metadata: {k}": Case(f"metadata: {k}", c.kind, c.data, c.code, c.message, c.argv, c.secret) for k, c in METADATA_CASES.items()}
    for key, (text, message) in LOCK_CASES.items():
        cases[f"lock: {key}"] = Case(f"lock: {key}", "lock", text, 3, message, ("install-pinned-versions",), PASSWORD if "password" in key or "token" in key else None)
    for key, (text, message) in LOCK_GIT_CASES.items():
        cases[f"lock: {key}"] = Case(f"lock: {key}", "lock", text, 5, message, ("install-pinned-versions",))
    for key, (values, message) in SETTINGS_CASES.items():
        cases[f"settings: {key}"] = Case(f"settings: {key}", "settings", values, 2, message, secret=PASSWORD if "password" in key or "token" in key else None)
    for key, (source, message) in ALLOWED_CASES.items():
        cases[f"allowed_sources: {key}"] = Case(f"allowed_sources: {key}", "allowed", source, 5, message)
    for key, (code, message) in DEPENDENCY_CASES.items():
        cases[f"formula: {key}"] = Case(f"formula: {key}", "dependency", f"org/{key}-formula", code, message)
    for key, (argv, message) in ARGV_CASES.items():
        cases[f"argv: {key}"] = Case(f"argv: {key}", "argv", None, 2, message, argv)
    cases["settings: saltenv without environments"] = Case("settings: saltenv without environments", "settings", {"saltenv": "dev"}, 2, NO_ENVIRONMENTS)
    return cases


CASES = all_cases()


@dataclass
class Catalogue:
    forge: Forge
    published: Path
    cache: Path
    base: Path
    commits: dict[str, str] = field(default_factory=dict)
    results: dict[str, tuple[Result, Any, Any, Path, list[str], list[str], list[Path]]] = field(default_factory=dict)

    def fill(self, text: str, project: Path) -> str:
        text = text.replace("<FORGE>", str(self.forge.root)).replace("<ROOT>", str(project)).replace("<CACHE>", str(self.cache))
        for name, commit in self.commits.items():
            text = text.replace(f"<C:{name}>", commit[:12])
        return text


def prepare(case: Case, project: Path, catalogue: Catalogue) -> None:
    if case.kind == "metadata":
        data = case.data
        (project / "metadata.yml").write_bytes(data if isinstance(data, bytes) else data.encode())
    elif case.kind == "lock":
        data = case.data
        (project / "formula-requirements.txt").write_bytes(data if isinstance(data, bytes) else data.encode())
    elif case.kind == "settings":
        config = yaml.safe_load((project / "shaker.yml").read_text())
        (project / "shaker.yml").write_text(yaml.safe_dump({**config, **case.data}))
    elif case.kind == "allowed":
        config = yaml.safe_load((project / "shaker.yml").read_text())
        config["allowed_sources"] = [catalogue.fill(ALLOWED, project)]
        (project / "shaker.yml").write_text(yaml.safe_dump(config))
        (project / "metadata.yml").write_text(deps({"name": "org/evil-formula", "source": catalogue.fill(case.data, project)}))
    elif case.kind == "dependency":
        (project / "metadata.yml").write_text(deps(case.data))


def run_case(case: Case, catalogue: Catalogue, index: int) -> None:
    """One case on its own copy of the published project and of its mirror cache."""
    case_dir = catalogue.base / f"case-{index:03d}"
    project = copy_project(catalogue.published, case_dir / "project")
    cache = shutil.copytree(catalogue.cache, case_dir / "cache", symlinks=True)
    config = yaml.safe_load((project / "shaker.yml").read_text())
    (project / "shaker.yml").write_text(yaml.safe_dump({**config, "cache_dir": str(cache)}))
    prepare(case, project, catalogue)
    inputs = {path: path.read_bytes() for path in project.iterdir() if path.is_file()}
    before = disk_state(project)
    mirrors_before = sorted(os.listdir(cache))
    result = shaker(*case.argv, cwd=project, timeout=120)
    outputs = [p for p in project.rglob("*") if p.is_file() and not p.is_symlink() and inputs.get(p) != p.read_bytes()]
    catalogue.results[case.id] = (result, before, disk_state(project), project, mirrors_before, sorted(os.listdir(cache)), outputs)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    base = tmp_path_factory.mktemp("catalogue")
    forge = build_small_forge(base / "forge")
    add_hostile_formulas(forge)
    cache = base / "cache"
    published = make_project(base / "published", forge.template, cache_dir=cache)
    done = shaker("install", cwd=published)
    assert done.code == 0, str(done)
    commits = {name: forge[f"org/{name}-formula"].git("rev-parse", "v1.0.0^{commit}") for name in HOSTILE}
    catalogue = Catalogue(forge, published, cache, base, commits)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(run_case, case, catalogue, index) for index, case in enumerate(CASES.values())]:
            future.result()
    return catalogue


def test_the_catalogue_is_large_and_the_published_state_is_good(catalogue: Catalogue) -> None:
    assert len(CASES) >= 40 and len(catalogue.results) == len(CASES)
    lock = (catalogue.published / "formula-requirements.txt").read_text()
    assert f"{APP}==v1.0.0 " in lock and f"{LIB}==v1.0.0 " in lock
    assert (catalogue.published / "vendor" / "_root" / "app" / "init.sls").read_text() == "app: v1.0.0\n"


def assert_message(message: str, expected: str, context: str) -> None:
    """Exact, except that ``<LIBGIT2>`` stands for libgit2's own reason, whose wording is libgit2's and changes between its releases."""
    if "<LIBGIT2>" not in expected:
        assert message == expected, context
        return
    head, tail = expected.split("<LIBGIT2>")
    assert message.startswith(head) and message.endswith(tail) and len(message) > len(head) + len(tail), context


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input_is_refused_exactly_and_changes_nothing(catalogue: Catalogue, case_id: str) -> None:
    case = CASES[case_id]
    result, before, after, project, mirrors_before, mirrors_after, outputs = catalogue.results[case_id]

    message = one_line_error(result)

    assert result.code == case.code, str(result)
    assert_message(message, catalogue.fill(case.message, project), str(result))
    assert_unchanged(before, after, case_id)
    assert after.root_target is not None and (project / "vendor" / "_root" / "app" / "init.sls").read_text() == "app: v1.0.0\n"
    if case.secret:  # the bad input itself holds it; nothing salt-shaker wrote or printed does
        assert case.secret not in result.out + result.err
        assert outputs and not [p for p in outputs if case.secret.encode() in p.read_bytes()]
    new_mirrors = sorted(set(mirrors_after) - set(mirrors_before))
    if case.kind in ("metadata", "settings", "allowed"):
        # refused before git ran for any new source: not even a mirror lock file appeared (the 10,000 names included)
        assert not new_mirrors, new_mirrors[:5]
    if case_id == "formula: badref":
        assert not [m for m in new_mirrors if m.endswith(".git")], new_mirrors  # the failed clone left no mirror behind


def test_git_itself_refuses_a_tag_named_with_dots(catalogue: Catalogue) -> None:
    """A tag name with '..' cannot be made with git; written by hand, it fails the fetch (case 'formula: badref')."""
    bare = catalogue.forge["org/badref-formula"].bare
    refused = subprocess.run(["git", "tag", "v3..0"], cwd=bare, capture_output=True, text=True)
    assert refused.returncode != 0 and "not a valid tag name" in refused.stderr
    listed = subprocess.run(["git", "for-each-ref", "refs/tags"], cwd=bare, capture_output=True, text=True)
    assert "v2..0" not in listed.stdout and "refs/tags/v1.0.0" in listed.stdout  # git ignores the broken ref with a warning
    assert "ignoring ref with broken name refs/tags/v2..0" in listed.stderr


# -- webhooks: shaker_core.gitops.on_push with Settings and the webhook settings --

SECRET = "Webhook-Catalogue-Secret-5150"


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push_body(url: str, ref: str = "refs/tags/v1.1.0") -> bytes:
    return json.dumps({"ref": ref, "after": COMMIT, "repository": {"clone_url": url}}).encode()


WEBHOOK_CASES: dict[str, tuple[Callable[[str], tuple[dict[str, str], bytes]], dict[str, Any] | None, str]] = {
    "no signature": (
        lambda url: ({"X-GitHub-Event": "push"}, push_body(url)),
        None,
        "The request has no signature (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token or the generic header); it was ignored.",
    ),
    "wrong signature": (
        lambda url: ({"X-Hub-Signature-256": signed(push_body(url), "not-the-secret")}, push_body(url)),
        None,
        "The x-hub-signature-256 signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret.",
    ),
    "signature of another body": (
        lambda url: ({"X-Hub-Signature-256": signed(push_body(url, "refs/heads/main"))}, push_body(url)),
        None,
        "The x-hub-signature-256 signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret.",
    ),
    "sha1 signature": (
        lambda url: ({"X-Hub-Signature-256": "sha1=" + hmac.new(SECRET.encode(), push_body(url), hashlib.sha1).hexdigest()}, push_body(url)),
        None,
        "The x-hub-signature-256 signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret.",
    ),
    "gitea signature of another body": (
        lambda url: ({"X-Gitea-Signature": signed(b"{}")[len("sha256="):]}, push_body(url)),
        None,
        "The x-gitea-signature signature does not match the body; check the webhook secret on the git host and in shaker:webhook:secret.",
    ),
    "wrong gitlab token": (
        lambda url: ({"X-Gitlab-Token": "guess"}, push_body(url)),
        None,
        "The X-Gitlab-Token does not match; check the secret token on GitLab and in shaker:webhook.",
    ),
    "huge body": (
        lambda url: ({"X-Hub-Signature-256": signed(b" " * (1 << 20) + b"{}")}, b" " * (1 << 20) + b"{}"),
        None,
        "The request body is 1048578 bytes, over the limit of 1048576 (shaker:webhook:max_body_bytes); it was ignored.",
    ),
    "non-JSON body": (
        lambda url: ({"X-Hub-Signature-256": signed(b"ref=refs/tags/v1.1.0")}, b"ref=refs/tags/v1.1.0"),
        None,
        "The signed request body is not JSON; configure the webhook to send application/json.",
    ),
    "non-UTF-8 body": (
        lambda url: ({"X-Hub-Signature-256": signed(b'{"ref": "\xff"}')}, b'{"ref": "\xff"}'),
        None,
        "The signed request body is not JSON; configure the webhook to send application/json.",
    ),
    "JSON that is not an object": (
        lambda url: ({"X-Hub-Signature-256": signed(b"[1, 2]")}, b"[1, 2]"),
        None,
        "The signed request body is not a JSON object.",
    ),
    "no secret configured": (
        lambda url: ({"X-Hub-Signature-256": signed(push_body(url))}, push_body(url)),
        {"secret": ""},
        "No webhook secret is configured (shaker:webhook:secret in the master config); every push is refused until one is set.",
    ),
}


@pytest.fixture
def webhook_project(catalogue: Catalogue, tmp_path: Path) -> tuple[Settings, Path]:
    project = copy_project(catalogue.published, tmp_path / "project")
    settings = Settings.from_mapping({"root_dir": str(project), "source_template": catalogue.forge.template, "cache_dir": str(catalogue.cache),
                                      "auto_update": True, "lock_timeout": 10})
    return settings, project


@pytest.mark.parametrize("case_id", list(WEBHOOK_CASES))
def test_a_bad_webhook_request_is_rejected_and_changes_nothing(webhook_project: tuple[Settings, Path], catalogue: Catalogue, case_id: str) -> None:
    settings, project = webhook_project
    make_request, webhook, message = WEBHOOK_CASES[case_id]
    headers, body = make_request(catalogue.forge[APP].url)  # a tracked formula: a good request would update it
    before = disk_state(project)

    with pytest.raises(WebhookRejected) as rejected:
        gitops.on_push(settings, webhook or {"secret": SECRET}, {"headers": headers, "body": body})

    assert rejected.value.message == message
    assert rejected.value.exit_code == 2
    assert SECRET not in message
    assert_unchanged(before, disk_state(project), case_id)
    assert not (project / "vendor" / "deploy.json").read_text().count("webhook")  # no run was started


def test_a_signed_push_for_an_untracked_repository_is_ignored(webhook_project: tuple[Settings, Path]) -> None:
    settings, project = webhook_project
    before = disk_state(project)
    body = push_body("https://github.com/someone/else-formula.git")

    report = gitops.on_push(settings, {"secret": SECRET}, {"headers": {"X-Hub-Signature-256": signed(body), "X-GitHub-Delivery": "d-1"}, "body": body})

    assert report["success"] is True and report["ignored"] is True
    assert report["comment"] == "Ignored: the repository is neither the project repository nor a locked formula."
    assert report["push"] == {"provider": "github", "event": "tag_push", "ref": "refs/tags/v1.1.0", "delivery": "d-1"}
    assert_unchanged(before, disk_state(project), "untracked")
