"""Formula repositories laid out as they exist in the wild, for tests/formulas.

Two forges of bare repositories (built with the git CLI by :mod:`helpers.forge`):

``forge`` (what ``source_template`` reaches, ``file://<forge>/{org}/{name}.git``)::

    saltstack-formulas/template-formula  v5.0.0  SPM style: no metadata.yml, a FORMULA file
                                                 (top_level_dir: TEMPLATE, dependencies: sysctl, locale,
                                                 minimum_version: 2017.7), states in TEMPLATE/ using
                                                 tplroot/map.jinja/defaults.yaml as the real template does
    saltstack-formulas/sysctl-formula    v0.1.0  FORMULA only, version 0.1.0
                                         v0.2.0  FORMULA still says version 0.1.0 (a forgotten bump)
    saltstack-formulas/locale-formula    v1.0.0  metadata.yml without exports (-> timezone>=v1.0.0)
                                                 and a FORMULA (top_level_dir locale, dependencies: sysctl,
                                                 minimum_version 2016.11)
                                         v1.1.0  the same, minimum_version 3007.1
    saltstack-formulas/timezone-formula  v1.0.0  plain metadata.yml formula
    saltstack-formulas/future-formula    v1.0.0  FORMULA with minimum_version 3999.1 (newer than any Salt)
    salt-formulas/salt-formula-linux     2017.4  salt-formulas (tcpcloud) metadata.yml: name: linux, version,
                                                 source, dependencies [{name: salt, source: <github>/salt-formulas/salt-formula-salt}];
                                                 states in linux/, _modules/, reclass metadata/, tests/, debian/
    diamond/a-formula  v1.0.0 -> c>=v1.0.0        (each states dir holds one test.succeed_without_changes)
    diamond/b-formula  v1.0.0 -> c<v2.0.0
    diamond/c-formula  v1.0.0 v1.5.0

``github`` (reached only through a dependency's ``source:`` URL)::

    salt-formulas/salt-formula-salt      2017.4  tcpcloud metadata (name: salt), states in salt/, _grains/;
                                                 also reachable without ".git" (a symlink), as salt-formulas write URLs
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from helpers.forge import Forge, Formula

TEMPLATE = "saltstack-formulas/template-formula"
SYSCTL = "saltstack-formulas/sysctl-formula"
LOCALE = "saltstack-formulas/locale-formula"
TIMEZONE = "saltstack-formulas/timezone-formula"
LINUX = "salt-formulas/salt-formula-linux"
SALT = "salt-formulas/salt-formula-salt"
FUTURE = "saltstack-formulas/future-formula"
A, B, C = "diamond/a-formula", "diamond/b-formula", "diamond/c-formula"
FUTURE_SALT = "3999.1"  # a minimum_version newer than any running Salt

SALT_CALL = str(Path(sys.executable).with_name("salt-call"))


def state(name: str, value: str) -> str:
    """A one-state SLS: ``<name>_marker: test.succeed_without_changes`` named ``<name> <value>``."""
    return f"{name}_marker:\n  test.succeed_without_changes:\n    - name: {name} {value}\n"


def spm_formula(forge: Forge, name: str, files: dict[str, Any], formula_file: str, tag: str, metadata: str | None = None) -> Formula:
    """A repository as saltstack-formulas ship them: a FORMULA file and no metadata.yml (unless ``metadata`` text is given)."""
    formula = forge.formula(name, files)
    formula.commit({"FORMULA": formula_file, "metadata.yml": metadata})
    formula.tag(tag)
    return formula


def formula_text(name: str, version: str, top: str, minimum: str, dependencies: str | None = None) -> str:
    """A FORMULA file in the shape of saltstack-formulas/template-formula's."""
    lines = [
        f"name: {name}",
        "os: Debian, Ubuntu, Raspbian, RedHat, Fedora, CentOS, Suse, openSUSE, Arch",
        "os_family: Debian, RedHat, Suse, Arch",
        f"version: {version}",
        "release: 1",
        f"minimum_version: {minimum}",
        f"summary: {name} formula",
        f"description: Formula to use {name}",
        f"top_level_dir: {top}",
    ]
    if dependencies:
        lines.append(f"dependencies: {dependencies}")
    return "\n".join(lines) + "\n"


TEMPLATE_FILES = {
    "TEMPLATE/init.sls": "# -*- coding: utf-8 -*-\n# vim: ft=sls\n\ninclude:\n  - .package\n  - .config\n",
    "TEMPLATE/map.jinja": (
        "# -*- coding: utf-8 -*-\n"
        "{#- Get the `tplroot` from `tpldir` #}\n"
        "{%- set tplroot = tpldir.split('/')[0] %}\n"
        "{%- import_yaml tplroot ~ '/defaults.yaml' as default_settings %}\n"
        "{%- set mapdata = salt['pillar.get']('TEMPLATE:lookup', default=default_settings.TEMPLATE, merge=True) %}\n"
    ),
    "TEMPLATE/defaults.yaml": "TEMPLATE:\n  pkg:\n    name: bash\n  config: /etc/template-formula.conf\n",
    "TEMPLATE/package/init.sls": "include:\n  - .install\n",
    "TEMPLATE/package/install.sls": (
        "# -*- coding: utf-8 -*-\n"
        "{#- Get the `tplroot` from `tpldir` #}\n"
        "{%- set tplroot = tpldir.split('/')[0] %}\n"
        "{%- from tplroot ~ \"/map.jinja\" import mapdata as TEMPLATE with context %}\n\n"
        "TEMPLATE-package-install-pkg-installed:\n"
        "  pkg.installed:\n"
        "    - name: {{ TEMPLATE.pkg.name }}\n"
    ),
    "TEMPLATE/config/init.sls": "include:\n  - .file\n",
    "TEMPLATE/config/file.sls": (
        "{%- set tplroot = tpldir.split('/')[0] %}\n"
        "{%- set sls_package_install = tplroot ~ '.package.install' %}\n"
        "{%- from tplroot ~ \"/map.jinja\" import mapdata as TEMPLATE with context %}\n\n"
        "include:\n"
        "  - {{ sls_package_install }}\n\n"
        "TEMPLATE-config-file-file-managed:\n"
        "  file.managed:\n"
        "    - name: {{ TEMPLATE.config }}\n"
        "    - source: salt://{{ tplroot }}/files/default/example.tmpl.jinja\n"
        "    - template: jinja\n"
        "    - require:\n"
        "      - sls: {{ sls_package_install }}\n"
    ),
    "TEMPLATE/files/default/example.tmpl.jinja": "# managed by the TEMPLATE formula\n",
    "pillar.example": "TEMPLATE:\n  lookup: {}\n",
    "docs/README.rst": "TEMPLATE formula\n================\n",
    "test/integration/default/inspec.yml": "name: default\n",
    ".github/workflows/main.yml": "name: CI\n",
}

LINUX_FILES = {
    "linux/init.sls": "{%- from \"linux/map.jinja\" import system with context %}\ninclude:\n  - linux.system\n",
    "linux/map.jinja": (
        "{%- set system = salt['grains.filter_by']({\n"
        "    'Debian': {'pkgs': ['python3-apt'], 'motd': '/etc/motd'},\n"
        "    'RedHat': {'pkgs': ['yum-utils'], 'motd': '/etc/motd'},\n"
        "}, grain='os_family', merge=salt['pillar.get']('linux:system'), default='Debian') %}\n"
    ),
    "linux/system/init.sls": (
        "{%- from \"linux/map.jinja\" import system with context %}\n"
        "linux_packages:\n"
        "  pkg.installed:\n"
        "    - names: {{ system.pkgs | json }}\n"
        "linux_motd:\n"
        "  file.managed:\n"
        "    - name: {{ system.motd }}\n"
        "    - contents: managed by salt-formula-linux\n"
    ),
    "_modules/linux_netlink.py": "def ls():\n    return []\n",
    "metadata/service/system/init.yml": "classes:\n- service.linux.support\n",
    "tests/pillar/system.sls": "linux:\n  system:\n    enabled: true\n",
    "debian/changelog": "salt-formula-linux (2017.4) xenial; urgency=medium\n",
    "README.rst": "Linux formula\n=============\n",
}

SALT_FILES = {
    "salt/init.sls": "include:\n  - salt.minion\n",
    "salt/minion/init.sls": "salt_minion_packages:\n  pkg.installed:\n    - names: [salt-minion]\n",
    "_grains/salt_minion.py": "def minion():\n    return {}\n",
    "metadata/service/minion/single.yml": "classes:\n- service.salt.support\n",
    "README.rst": "Salt formula\n============\n",
}


def tcpcloud_metadata(name: str, repo: str, dependencies: list[dict[str, str]] | None = None) -> str:
    """A salt-formulas (tcpcloud) metadata.yml, quoted as they write it."""
    text = f'name: "{name}"\nversion: "2017.4"\nsource: "https://github.com/salt-formulas/{repo}"\n'
    if dependencies:
        text += "dependencies:\n" + "".join(f"- name: {d['name']}\n  source: \"{d['source']}\"\n" for d in dependencies)
    return text


class World:
    """The two forges."""

    def __init__(self, root: Path, build: bool = True) -> None:
        self.forge = Forge(root / "forge")
        self.github = Forge(root / "github")
        if build:
            self._build()

    @property
    def template(self) -> str:
        return self.forge.template

    @property
    def salt_source(self) -> str:
        """salt-formula-salt's URL as salt-formula-linux's metadata.yml names it (no ``.git``)."""
        return f"file://{self.github.root}/salt-formulas/salt-formula-salt"

    def copy(self, dest: Path) -> World:
        """An independent copy (the copied salt-formula-linux still names the original github forge in its metadata)."""
        self.forge.copy(dest / "forge")
        self.github.copy(dest / "github")
        return World(dest, build=False)

    def __getitem__(self, name: str) -> Formula:
        return self.github[name] if name == SALT else self.forge[name]

    def _build(self) -> None:
        forge, github = self.forge, self.github
        spm_formula(forge, TEMPLATE, TEMPLATE_FILES, formula_text("TEMPLATE", "5.0.0", "TEMPLATE", "2017.7", "sysctl, locale"), "v5.0.0")
        sysctl = spm_formula(forge, SYSCTL, {"sysctl/init.sls": "vm.swappiness:\n  sysctl.present:\n    - value: 10\n"},
                             formula_text("sysctl", "0.1.0", "sysctl", "2016.11"), "v0.1.0")
        sysctl.commit({"sysctl/param.sls": "include:\n  - sysctl\n"})  # v0.2.0: the FORMULA's version was not bumped
        sysctl.tag("v0.2.0")
        locale_metadata = yaml.safe_dump({"formula": LOCALE, "dependencies": [f"{TIMEZONE}>=v1.0.0"]}, sort_keys=False)
        locale = spm_formula(forge, LOCALE, {"locale/init.sls": "locale: {}\n"},
                             formula_text("locale", "1.0.0", "locale", "2016.11", "sysctl"), "v1.0.0", metadata=locale_metadata)
        locale.commit({"FORMULA": formula_text("locale", "1.1.0", "locale", "3007.1", "sysctl"), "locale/init.sls": "locale: {v: 1.1}\n"})
        locale.tag("v1.1.0")
        forge.formula(TIMEZONE, {"timezone/init.sls": state("timezone", "Etc/UTC")}, tag="v1.0.0")
        spm_formula(forge, FUTURE, {"future/init.sls": state("future", "v1.0.0")},
                    formula_text("future", "1.0.0", "future", FUTURE_SALT), "v1.0.0")

        salt = github.formula(SALT, SALT_FILES)
        salt.commit({"metadata.yml": tcpcloud_metadata("salt", "salt-formula-salt")})
        salt.tag("2017.4")
        linux = forge.formula(LINUX, LINUX_FILES)
        # the dependency's source without ".git", as salt-formulas write "https://github.com/salt-formulas/salt-formula-salt"
        os.symlink(salt.bare.name, salt.bare.with_name("salt-formula-salt"))
        linux.commit({"metadata.yml": tcpcloud_metadata("linux", "salt-formula-linux", [{"name": "salt", "source": self.salt_source}])})
        linux.tag("2017.4")

        forge.formula(C, {"c/init.sls": state("c", "v1.0.0")}, tag="v1.0.0")
        forge[C].commit({"c/init.sls": state("c", "v1.5.0")})
        forge[C].tag("v1.5.0")
        forge.formula(A, {"a/init.sls": state("a", "v1.0.0")}, dependencies=[f"{C}>=v1.0.0"], tag="v1.0.0")
        forge.formula(B, {"b/init.sls": state("b", "v1.0.0")}, dependencies=[f"{C}<v2.0.0"], tag="v1.0.0")


def make_project(root: Path, template: str, metadata: dict[str, Any], **settings: Any) -> Path:
    """A project directory: metadata.yml and shaker.yml (source_template plus ``settings``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.yml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    (root / "shaker.yml").write_text(yaml.safe_dump({"source_template": template, **settings}, sort_keys=False))
    return root


def read_lock(path: Path) -> dict[str, tuple[str, ...]]:
    """``{name: (ref, commit[, source])}`` of a lock file."""
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            pin, *rest = line.split()
            name, ref = pin.split("==")
            pins[name] = (ref, *rest)
    return pins


def served(root: Path) -> list[str]:
    """The top-level names the formulas of a published root serve, sorted (beside the release's own _shaker/, which must be there)."""
    names = sorted(os.listdir(root))
    assert "_shaker" in names and os.path.isfile(os.path.join(root, "_shaker", "release.json")), names
    return [name for name in names if name != "_shaker"]


def minion_config(conf_dir: Path, salt_root: Path, file_roots: dict[str, list[str]], **extra: Any) -> Path:
    """A masterless minion configuration (file_client local) in ``conf_dir``."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "id": "formulas-minion",
        "file_client": "local",
        "root_dir": str(salt_root),
        "file_roots": file_roots,
        "pillar_roots": {"base": []},
        "log_level_logfile": "quiet",
        "fileserver_list_cache_time": 0,
        **extra,
    }
    (conf_dir / "minion").write_text(yaml.safe_dump(config, sort_keys=False))
    return conf_dir


def salt_call(conf_dir: Path, *args: str, timeout: float = 120) -> tuple[int, Any, str]:
    """``salt-call --local --config-dir CONF --out json ARGS``: (exit code, the ``local`` return, stderr)."""
    import json

    done = subprocess.run([SALT_CALL, "--local", "--config-dir", str(conf_dir), "--out", "json", "--retcode-passthrough", *args],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONSTARTUP": ""})
    try:
        data = json.loads(done.stdout)["local"] if done.stdout.strip() else None
    except ValueError:
        data = None
    return done.returncode, data, done.stdout + done.stderr


# -- a small DOT reader: enough of the grammar (graphviz.org/doc/info/lang.html) to refuse what dot would refuse --

_TOKEN = re.compile(r'\s*(?:(?P<id>[A-Za-z_][A-Za-z0-9_]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))|(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>->|--|[{}\[\];,=]))')


def parse_dot(text: str) -> dict[str, Any]:
    """Parse a ``digraph`` of node and edge statements with attribute lists; raise ValueError when it is not DOT."""
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"unexpected text at {position}: {text[position:position + 20]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, value[1:-1].replace('\\"', '"') if kind == "str" else value))
        position = match.end()
    stream = iter(tokens + [("end", "")])
    current = next(stream)

    def take(kind: str | None = None, value: str | None = None) -> str:
        nonlocal current
        got_kind, got_value = current
        if (kind and got_kind != kind) or (value and got_value != value):
            raise ValueError(f"expected {value or kind}, got {got_value!r}")
        current = next(stream, ("eof", ""))
        return got_value

    def ident() -> str:
        if current[0] in ("id", "str"):
            return take()
        raise ValueError(f"expected an ID, got {current[1]!r}")

    def attributes() -> dict[str, str]:
        found: dict[str, str] = {}
        while current == ("op", "["):
            take("op", "[")
            while current != ("op", "]"):
                key = ident()
                take("op", "=")
                found[key] = ident()
                if current[1] in (",", ";"):
                    take()
            take("op", "]")
        return found

    if take("id") != "digraph":
        raise ValueError("not a digraph")
    graph: dict[str, Any] = {"name": ident() if current[0] in ("id", "str") else None, "nodes": {}, "edges": []}
    take("op", "{")
    while current != ("op", "}"):
        first = ident()
        if current == ("op", "->"):
            chain = [first]
            while current == ("op", "->"):
                take("op", "->")
                chain.append(ident())
            attrs = attributes()
            graph["edges"] += [(a, b, attrs) for a, b in zip(chain, chain[1:], strict=False)]
        elif current == ("op", "--"):
            raise ValueError("'--' edges are for undirected graphs")
        else:
            graph["nodes"][first] = attributes()
        if current == ("op", ";"):
            take("op", ";")
    take("op", "}")
    take("end")
    return graph
