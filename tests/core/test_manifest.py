"""metadata.yml parsing: every accepted form, and every error with its exact message."""
from __future__ import annotations

import logging
import textwrap

import pytest

from shaker_core.errors import ManifestError
from shaker_core.manifest import Manifest, default_exports, parse_manifest, parse_requirement

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OPERATORS = "use one of ==, !=, >=, <=, >, <"
NAME_HINT = "write '<org>/<name>-formula'"
EXPORT_RULE = "is not a safe directory name; use letters, digits, '.', '_' and '-', not starting with '_', '.' or '-'."


def manifest(text: str, **kwargs) -> Manifest:
    return parse_manifest(textwrap.dedent(text), **kwargs)


def manifest_error(data: str | bytes, **kwargs) -> str:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, **kwargs)
    return str(caught.value)


def requirement_error(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        parse_requirement(text)
    return str(caught.value)


def summary(requirement) -> tuple:
    return (requirement.name, str(requirement.constraint), requirement.constraint.kind, requirement.source)


# --- dependency strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("org/a-formula", ("org/a-formula", "", "any", None)),
        ("org/a-formula>=v1.0,<v2.0", ("org/a-formula", ">=v1.0,<v2.0", "version", None)),
        ("org/a-formula >= v1.0 , < v2.0", ("org/a-formula", ">=v1.0,<v2.0", "version", None)),
        ("  org/a-formula==develop  ", ("org/a-formula", "==develop", "branch", None)),
        ("org/a-formula!=v1.5", ("org/a-formula", "!=v1.5", "version", None)),
        ("org/a-formula==v1.*", ("org/a-formula", "==v1.*", "version", None)),
        ("org/a-formula==v2.0.0-rc1", ("org/a-formula", "==v2.0.0-rc1", "version", None)),
        (f"org/a-formula=={COMMIT}", ("org/a-formula", f"=={COMMIT}", "rev", None)),
        ("my_org/a.b_c-formula<v3", ("my_org/a.b_c-formula", "<v3", "version", None)),
        ("git@github.com:org/a-formula.git", ("org/a-formula", "", "any", "git@github.com:org/a-formula.git")),
        ("git@github.com:org/a-formula.git>=v1.0", ("org/a-formula", ">=v1.0", "version", "git@github.com:org/a-formula.git")),
        ("git@github.com:org/a-formula.git >= v1.0", ("org/a-formula", ">=v1.0", "version", "git@github.com:org/a-formula.git")),
        ("https://git.example.com/org/a-formula.git", ("org/a-formula", "", "any", "https://git.example.com/org/a-formula.git")),
        ("https://git.example.com/org/a-formula.git==v1.0.0", ("org/a-formula", "==v1.0.0", "version", "https://git.example.com/org/a-formula.git")),
        ("https://git.example.com/group/sub/org/a-formula", ("org/a-formula", "", "any", "https://git.example.com/group/sub/org/a-formula")),
        ("ssh://git@host:2222/org/a-formula.git<v2", ("org/a-formula", "<v2", "version", "ssh://git@host:2222/org/a-formula.git")),
        ("file:///srv/forge/org/a-formula.git", ("org/a-formula", "", "any", "file:///srv/forge/org/a-formula.git")),
        ("file:///srv/forge/org/a-formula.git<v2", ("org/a-formula", "<v2", "version", "file:///srv/forge/org/a-formula.git")),
        ("file:///srv/forge/org/a-formula.git==develop", ("org/a-formula", "==develop", "branch", "file:///srv/forge/org/a-formula.git")),
    ],
)
def test_requirement_forms(text, expected):
    requirement = parse_requirement(text)
    assert summary(requirement) == expected
    assert str(requirement) == requirement.text == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("org/a=>v1", f"dependency ('org/a=>v1') uses unknown operator '=>'; {OPERATORS}."),
        ("org/a>>v1", f"dependency ('org/a>>v1') uses unknown operator '>>'; {OPERATORS}."),
        ("org/a~>v1", f"dependency ('org/a~>v1') uses unknown operator '~>'; {OPERATORS}."),
        ("org/a>=", "dependency ('org/a>=') has nothing after '>='."),
        ("org/a>=v1,", "dependency ('org/a>=v1,') has an empty clause between commas."),
        ("org/a==v1 .0", "dependency ('org/a==v1 .0') has a space inside 'v1 .0'."),
        ("org/a<=develop", "dependency ('org/a<=develop') compares 'develop', which is not a version; a branch or commit can only be named alone with '=='."),
        ("org/a==de..v", "dependency ('org/a==de..v') names 'de..v', which is neither a version nor a valid branch name."),
        ("", f"dependency (''): the name is empty; {NAME_HINT}."),
        ("orga-formula", f"dependency ('orga-formula'): the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
        ("org/a/b-formula", f"dependency ('org/a/b-formula'): the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
        ("org /a-formula", f"dependency ('org /a-formula'): the name contains a space; {NAME_HINT}."),
        ("org/a formula>=v1", f"dependency ('org/a formula>=v1'): the name contains a space; {NAME_HINT}."),
        ("org/..", f"dependency ('org/..'): the name has '..' as a part, which cannot name a repository; {NAME_HINT}."),
        ("../a-formula", f"dependency ('../a-formula'): the name has '..' as a part, which cannot name a repository; {NAME_HINT}."),
        ("org/", f"dependency ('org/'): the name has an empty part around '/'; {NAME_HINT}."),
        (
            "org/-a",
            "dependency ('org/-a'): the name has '-a', but each part may only hold letters, digits, '.', '_' and '-' "
            f"and cannot start with '.' or '-'; {NAME_HINT}.",
        ),
        (
            "org/a$b",
            "dependency ('org/a$b'): the name has 'a$b', but each part may only hold letters, digits, '.', '_' and '-' "
            f"and cannot start with '.' or '-'; {NAME_HINT}.",
        ),
        (
            "ext::sh -c x",
            "dependency ('ext::sh -c x'): the source URL uses a git remote helper ('<transport>::'), which can run commands; use https://, ssh:// or file://.",
        ),
        ("-oProxy", "dependency ('-oProxy'): the source URL starts with '-', which git would read as an option."),
        ("ftp://host/org/a.git", "dependency ('ftp://host/org/a.git'): the source URL uses transport 'ftp'; use one of https, http, ssh, git, file."),
        ("https://host/", "dependency ('https://host/'): the source URL has no repository path."),
        ("https://[host/org/a.git", "dependency ('https://[host/org/a.git'): the source URL is not a valid URL (Invalid IPv6 URL)."),
        (
            "https://host/a.git",
            "dependency ('https://host/a.git'): cannot tell '<org>/<name>' from the URL; use a mapping with 'name:' and 'source:'.",
        ),
        (
            "https://deploy:s3cret@host/org/a.git=>v1",
            f"dependency ('https://deploy:***@host/org/a.git=>v1') uses unknown operator '=>'; {OPERATORS}.",
        ),
        ("org/" + "a" * 100 + "=>v1", f"dependency ('org/{'a' * 73}...') uses unknown operator '=>'; {OPERATORS}."),
    ],
)
def test_requirement_errors(text, message):
    assert requirement_error(text) == message


def test_requirement_error_starts_with_where():
    with pytest.raises(ManifestError) as caught:
        parse_requirement("org/a=>v1", "org/b@1234/metadata.yml: dependency 3")
    assert str(caught.value) == f"org/b@1234/metadata.yml: dependency 3 ('org/a=>v1') uses unknown operator '=>'; {OPERATORS}."


# --- whole files ------------------------------------------------------------------------


def test_full_project_manifest():
    parsed = manifest(
        f"""\
        formula: my_org/local-formula
        exports: [local, local_extra]
        dependencies:
          - some_org/test1-formula
          - another_org/testa-formula>=v1.0.0
          - {{name: org/b-formula, branch: develop, source: "https://git.example.com/org/b-formula.git"}}
          - {{name: org/c-formula, version: ">= v1.0, <v2"}}
          - {{name: org/d-formula, version: v1.2.0}}
          - {{name: org/e-formula, rev: {COMMIT.upper()}}}
          - {{source: "file:///srv/forge/org/f-formula.git"}}
          - {{name: org/g-formula, version: null}}
        overrides:
          - org/c-formula==v2.0.0
        """
    )
    assert parsed.name == "my_org/local-formula"
    assert parsed.exports == ("local", "local_extra")
    assert [summary(r) for r in parsed.requirements] == [
        ("some_org/test1-formula", "", "any", None),
        ("another_org/testa-formula", ">=v1.0.0", "version", None),
        ("org/b-formula", "==develop", "branch", "https://git.example.com/org/b-formula.git"),
        ("org/c-formula", ">=v1.0,<v2", "version", None),
        ("org/d-formula", "==v1.2.0", "version", None),
        ("org/e-formula", f"=={COMMIT.upper()}", "rev", None),
        ("org/f-formula", "", "any", "file:///srv/forge/org/f-formula.git"),
        ("org/g-formula", "", "any", None),
    ]
    assert [str(r) for r in parsed.requirements[2:5]] == ["org/b-formula==develop", "org/c-formula>=v1.0,<v2", "org/d-formula==v1.2.0"]
    assert [summary(r) for r in parsed.overrides] == [("org/c-formula", "==v2.0.0", "version", None)]
    assert parsed.warnings == ()
    assert parsed.path == "metadata.yml"


def test_mapping_name_without_org_is_taken_from_source():
    parsed = manifest('dependencies: [{name: b-formula, source: "https://host/org/b-formula.git"}]')
    assert summary(parsed.requirements[0]) == ("org/b-formula", "", "any", "https://host/org/b-formula.git")


def test_exports_default_to_name_without_formula():
    parsed = manifest("dependencies: []")
    assert parsed.exports == ()
    assert parsed.exports_for("org/users-formula") == ("users",)
    assert manifest("formula: org/own-formula").exports_for("org/other-formula") == ("own",)
    assert manifest("exports: [x]").exports_for("org/users-formula") == ("x",)
    assert default_exports("org/formula") == ("formula",)
    assert default_exports("org/-formula") == ("-formula",)
    assert default_exports("org/users") == ("users",)


def test_known_top_level_keys_do_not_warn():
    assert manifest("name: x\nversion: '1'\nsource: y\ndescription: z\nenvironments: {base: []}\n").warnings == ()


def test_unknown_top_level_key_is_a_warning_kept_for_the_report_not_logged_twice(caplog):
    with caplog.at_level(logging.WARNING, logger="shaker_core.manifest"):
        parsed = manifest("dependencies: [org/a-formula]\nmaintainer: me\n")
    assert parsed.warnings == ("metadata.yml: unknown key 'maintainer' is ignored.",)
    assert caplog.messages == []  # the report carries it; the command line prints it once


def test_duplicate_formula_is_kept_and_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="shaker_core.manifest"):
        parsed = manifest("dependencies: [org/a-formula>=v1, org/b-formula, org/a-formula<v2]\n")
    assert [summary(r) for r in parsed.requirements if r.name == "org/a-formula"] == [
        ("org/a-formula", ">=v1", "version", None),
        ("org/a-formula", "<v2", "version", None),
    ]
    assert parsed.warnings == ()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "metadata.yml lists org/a-formula more than once; its constraints must all hold.")
    ]


def test_overrides_only_count_in_the_project():
    text = "dependencies: [org/a-formula]\noverrides: [org/a-formula==v1.0.0]\n"
    assert [str(r) for r in manifest(text).overrides] == ["org/a-formula==v1.0.0"]
    dependency = manifest(text, path="org/x@1/metadata.yml", root=False)
    assert dependency.overrides == ()
    assert dependency.warnings == ("org/x@1/metadata.yml: 'overrides' is ignored; only the project's metadata.yml can override.",)


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "~\n"])
def test_empty_file(text):
    assert manifest_error(text) == "metadata.yml is empty; list the formulas under 'dependencies:'."
    assert parse_manifest(text, "dep/metadata.yml", root=False) == Manifest(path="dep/metadata.yml")


def test_null_lists_and_bytes():
    assert manifest("dependencies:\noverrides:\nexports:\n") == Manifest()
    parsed = parse_manifest("# café\ndependencies: [org/a-formula]\n".encode())
    assert [r.name for r in parsed.requirements] == ["org/a-formula"]


def test_size_limit_counts_bytes():
    text = "dependencies: []\n#" + "x" * 80 + "\n"
    size = len(text.encode())
    assert parse_manifest(text, max_bytes=size).requirements == ()
    assert manifest_error(text, max_bytes=size - 1) == (
        f"metadata.yml is {size} bytes, over the limit of {size - 1}; shorten it or raise the 'max_manifest_bytes' setting."
    )
    assert manifest_error("x" * 600_000) == (
        "metadata.yml is 600000 bytes, over the limit of 524288; shorten it or raise the 'max_manifest_bytes' setting."
    )


MAPPING_SOURCE = "https://deploy:s3cret@host/org/a.git"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [\n", "metadata.yml: line 2, column 1 is not valid YAML (expected the node content, but found '<stream end>'); fix the syntax."),
        ("\tdependencies: []\n", "metadata.yml: line 1, column 1 is not valid YAML (found character '\\t' that cannot start any token); fix the syntax."),
        ("a: b: c\n", "metadata.yml: line 1, column 5 is not valid YAML (mapping values are not allowed here); fix the syntax."),
        ("a: &x 1\nb: *x\n", "metadata.yml: line 2 uses a YAML alias (*x); write the value out instead."),
        ("[" * 101 + "]" * 101, "metadata.yml is nested too deeply; flatten it."),
        ("[" * 200_000 + "]" * 200_000, "metadata.yml is nested too deeply; flatten it."),  # libyaml would overflow the C stack
        ("- " * 101 + "x\n", "metadata.yml is nested too deeply; flatten it."),
        ("- org/a-formula\n", "metadata.yml must be a mapping with 'dependencies:' and optional 'formula:' and 'exports:', not a list."),
        ("42\n", "metadata.yml must be a mapping with 'dependencies:' and optional 'formula:' and 'exports:', not a number."),
        ("org/a-formula\n", "metadata.yml must be a mapping with 'dependencies:' and optional 'formula:' and 'exports:', not a string."),
        ("dependencies: 3\n", "metadata.yml: 'dependencies' must be a list, not a number."),
        ("dependencies: org/a-formula\n", "metadata.yml: 'dependencies' must be a list, not a string."),
        ("overrides: {a: b}\n", "metadata.yml: 'overrides' must be a list, not a mapping."),
        ("dependencies: [3]\n", "metadata.yml: dependency 1 (3) is a number; write 'org/name-formula>=v1.0' or a mapping with 'name:'."),
        ("dependencies: [1.10]\n", "metadata.yml: dependency 1 (1.10) is a number; write 'org/name-formula>=v1.0' or a mapping with 'name:'."),
        ("dependencies: [[a]]\n", "metadata.yml: dependency 1 (['a']) is a list; write 'org/name-formula>=v1.0' or a mapping with 'name:'."),
        ("dependencies: [org/a-formula, org/b=>v1]\n", f"metadata.yml: dependency 2 ('org/b=>v1') uses unknown operator '=>'; {OPERATORS}."),
        ("overrides: [org/b>>v1]\n", f"metadata.yml: override 1 ('org/b>>v1') uses unknown operator '>>'; {OPERATORS}."),
        (
            "dependencies: [{name: org/a, version: 1.10}]\n",
            "metadata.yml: dependency 1 ({name: org/a, version: 1.10}): 'version' is a number, not a string; quote it ('1.10') so it is read as text.",
        ),
        (
            "dependencies: [{name: org/a, version: 2}]\n",
            "metadata.yml: dependency 1 ({name: org/a, version: 2}): 'version' is a number, not a string; quote it ('2') so it is read as text.",
        ),
        ("dependencies: [{name: org/a, version: true}]\n", "metadata.yml: dependency 1 ({name: org/a, version: True}): 'version' is a boolean, not a string."),
        ("dependencies: [{name: [org/a]}]\n", "metadata.yml: dependency 1 ({name: ['org/a']}): 'name' is a list, not a string."),
        ("dependencies: [{name: org/a, version: '=>v1'}]\n", f"metadata.yml: dependency 1 ({{name: org/a, version: =>v1}}) uses unknown operator '=>'; {OPERATORS}."),
        ("dependencies: [{name: org/a, version: '>='}]\n", "metadata.yml: dependency 1 ({name: org/a, version: >=}) has nothing after '>='."),
        ("dependencies: [{name: org/a, tag: v1}]\n", "metadata.yml: dependency 1 ({name: org/a, tag: v1}) has unknown key 'tag'; use name, version, branch, rev, source."),
        (
            "dependencies: [{name: org/a, version: '>=v1', branch: dev}]\n",
            "metadata.yml: dependency 1 ({name: org/a, version: >=v1, branch: dev}) gives both 'version' and 'branch'; keep one.",
        ),
        (
            f"dependencies: [{{name: org/a, branch: dev, rev: {COMMIT}}}]\n",
            f"metadata.yml: dependency 1 ({{name: org/a, branch: dev, rev: {COMMIT}}}) gives both 'branch' and 'rev'; keep one.",
        ),
        ("dependencies: [{version: v1}]\n", "metadata.yml: dependency 1 ({version: v1}) has no 'name'; add 'name: <org>/<name>-formula'."),
        ("dependencies: [{name: org/..}]\n", f"metadata.yml: dependency 1 ({{name: org/..}}): the name has '..' as a part, which cannot name a repository; {NAME_HINT}."),
        ("dependencies: [{name: orga}]\n", f"metadata.yml: dependency 1 ({{name: orga}}): the name must be '<org>/<name>' with exactly one '/'; {NAME_HINT}."),
        (
            "dependencies: [{name: org/a, branch: v1.0}]\n",
            "metadata.yml: dependency 1 ({name: org/a, branch: v1.0}): branch 'v1.0' is not a branch name salt-shaker can pin "
            "(it looks like a version or commit, or is not a valid ref).",
        ),
        (
            "dependencies: [{name: org/a, branch: 'a..b'}]\n",
            "metadata.yml: dependency 1 ({name: org/a, branch: a..b}): branch 'a..b' is not a branch name salt-shaker can pin "
            "(it looks like a version or commit, or is not a valid ref).",
        ),
        ("dependencies: [{name: org/a, rev: abc}]\n", "metadata.yml: dependency 1 ({name: org/a, rev: abc}): rev 'abc' is not a full 40-hex commit id."),
        (
            "dependencies: [{name: org/a, source: 'ext::sh -c x'}]\n",
            "metadata.yml: dependency 1 ({name: org/a, source: ext::sh -c x}): the source URL uses a git remote helper ('<transport>::'), "
            "which can run commands; use https://, ssh:// or file://.",
        ),
        (
            f"dependencies: [{{name: org/a, source: '{MAPPING_SOURCE}', version: 1.0}}]\n",
            "metadata.yml: dependency 1 ({name: org/a, source: https://deploy:***@host/org/a.git, version: 1.0}): "
            "'version' is a number, not a string; quote it ('1.0') so it is read as text.",
        ),
        (
            "dependencies: [{source: 'https://host/a.git'}]\n",
            "metadata.yml: dependency 1 ({source: https://host/a.git}): cannot tell '<org>/<name>' from the URL; use a mapping with 'name:' and 'source:'.",
        ),
        ("formula: 3\n", "metadata.yml: 'formula' must be a string like 'my_org/local-formula', not a number."),
        ("formula: org\n", "metadata.yml: formula name 'org' must be '<org>/<name>' with exactly one '/'."),
        ("formula: org/..\n", "metadata.yml: formula name 'org/..' has '..' as a part, which cannot name a repository."),
        ("exports: users\n", "metadata.yml: 'exports' must be a non-empty list of directory names, like [users]."),
        ("exports: []\n", "metadata.yml: 'exports' must be a non-empty list of directory names, like [users]."),
        ("exports: ['..']\n", f"metadata.yml: export 1 ('..') {EXPORT_RULE}"),
        ("exports: [ok, 'a/b']\n", f"metadata.yml: export 2 ('a/b') {EXPORT_RULE}"),
        ("exports: ['/']\n", f"metadata.yml: export 1 ('/') {EXPORT_RULE}"),
        ("exports: ['']\n", f"metadata.yml: export 1 ('') {EXPORT_RULE}"),
        ("exports: [_modules]\n", f"metadata.yml: export 1 ('_modules') {EXPORT_RULE}"),
        ("exports: [.hidden]\n", f"metadata.yml: export 1 ('.hidden') {EXPORT_RULE}"),
        ("exports: ['-x']\n", f"metadata.yml: export 1 ('-x') {EXPORT_RULE}"),
        ("exports: ['a..b']\n", f"metadata.yml: export 1 ('a..b') {EXPORT_RULE}"),
        ("exports: [1.10]\n", f"metadata.yml: export 1 (1.10) {EXPORT_RULE}"),
        ("exports: [null]\n", f"metadata.yml: export 1 (None) {EXPORT_RULE}"),
        ("exports: [a, a]\n", "metadata.yml: 'exports' lists a name twice; list each export once."),
    ],
)
def test_manifest_errors(text, message):
    assert manifest_error(text) == message


def test_deep_but_allowed_nesting():
    assert parse_manifest("a: " + "[" * 99 + "]" * 99).requirements == ()


def test_errors_name_the_file_and_never_show_secrets():
    message = manifest_error(f"dependencies: ['{MAPPING_SOURCE}>>v1']\n", path="org/x@12345678/metadata.yml")
    assert message == f"org/x@12345678/metadata.yml: dependency 1 ('https://deploy:***@host/org/a.git>>v1') uses unknown operator '>>'; {OPERATORS}."
    assert "s3cret" not in message


def test_not_utf8():
    assert manifest_error(b"dependencies: [org/\xff]\n") == "metadata.yml is not valid UTF-8 (byte 0xff at offset 19); save it as UTF-8."


def test_a_password_in_a_source_url_is_refused_and_never_shown():
    message = manifest_error(f"dependencies: ['{MAPPING_SOURCE}']\n")
    assert message == (
        "metadata.yml: dependency 1 ('https://deploy:***@host/org/a.git'): the source URL holds a password; "
        "put credentials in the 'credentials' setting, never in metadata.yml or the lock."
    )
    assert "s3cret" not in message
