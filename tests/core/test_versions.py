"""The tag policy: which tags are versions, their order, and constraints."""
from __future__ import annotations

import itertools

import pytest
from packaging.version import Version

from shaker_core.versions import (
    Clause,
    Constraint,
    intersect,
    is_commit,
    is_valid_branch_name,
    parse_constraint,
    parse_tag,
    version_tags,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v1.2.3", "1.2.3"),
        ("1.2.3", "1.2.3"),
        ("1.2", "1.2"),
        ("v2.0.0-rc1", "2.0.0rc1"),
        ("V1.0", "1.0"),
        ("v10", "10"),
        ("v1.0.0.post1", "1.0.0.post1"),
        ("vfoo", None),
        ("v1x2x3", None),
        ("release-1", None),
        ("latest", None),
        ("", None),
        ("v", None),
        ("vv1.0", None),
        ("v.1", None),
    ],
)
def test_parse_tag(tag, version):
    assert parse_tag(tag) == (Version(version) if version else None)


def test_prerelease_tags_are_prereleases():
    assert parse_tag("v2.0.0-rc1").is_prerelease
    assert parse_tag("v2.0.0-beta.2").is_prerelease
    assert not parse_tag("v2.0.0").is_prerelease


@pytest.mark.parametrize(("higher", "lower"), [("v10.0.0", "v9.0.0"), ("1.10", "1.9"), ("v1.10.0", "v1.9.9"), ("v2.0.0", "v2.0.0-rc2"), ("v2.0.0-rc10", "v2.0.0-rc9")])
def test_numeric_order(higher, lower):
    assert parse_tag(higher) > parse_tag(lower)


def test_version_tags_highest_first_and_junk_dropped():
    tags = {tag: f"commit-{tag}" for tag in ["v9.0.0", "vfoo", "v10.0.0", "v1.9", "v1x2x3", "v1.10", "release-1", "v2.0.0-rc1"]}
    assert [tag for tag, _ in version_tags(tags)] == ["v10.0.0", "v9.0.0", "v2.0.0-rc1", "v1.10", "v1.9"]


def test_equal_versions_with_different_names_sort_the_same_way_in_any_order():
    names = ["1.0.0", "v1.0", "v1.0.0", "V1.0.0", "v2"]
    orders = {tuple(tag for tag, _ in version_tags(dict.fromkeys(order, "c"))) for order in itertools.permutations(names)}
    assert orders == {("v2", "v1.0.0", "v1.0", "V1.0.0", "1.0.0")}


def test_is_commit():
    assert is_commit(COMMIT) and is_commit(COMMIT.upper())
    assert not is_commit(COMMIT[:-1]) and not is_commit(COMMIT + "0") and not is_commit("g" * 40)


@pytest.mark.parametrize("name", ["develop", "main", "feature/x", "release-1.x", "1.x", "user_branch"])
def test_valid_branch_names(name):
    assert is_valid_branch_name(name)


@pytest.mark.parametrize("name", ["", "a..b", "x.lock", "x/", "x.", "-x", ".x", "/x", "a b", "a~b", "a^b", "a:b"])
def test_invalid_branch_names(name):
    assert not is_valid_branch_name(name)


@pytest.mark.parametrize(
    ("text", "kind", "shown"),
    [
        ("", "any", ""),
        ("   ", "any", ""),
        (">=v1.0,<v2.0", "version", ">=v1.0,<v2.0"),
        (" >= v1.0 , < v2.0 ", "version", ">=v1.0,<v2.0"),
        ("==v1.0.0", "version", "==v1.0.0"),
        ("!=1.5", "version", "!=1.5"),
        ("==v1.*", "version", "==v1.*"),
        ("!=2.*", "version", "!=2.*"),
        ("==develop", "branch", "==develop"),
        ("==feature/x", "branch", "==feature/x"),
        (f"=={COMMIT}", "rev", f"=={COMMIT}"),
        (f"=={COMMIT.upper()}", "rev", f"=={COMMIT.upper()}"),
        ("==1234567890123456789012345678901234567890", "rev", "==1234567890123456789012345678901234567890"),
    ],
)
def test_parse_constraint(text, kind, shown):
    constraint = parse_constraint(text)
    assert constraint.kind == kind
    assert str(constraint) == shown


def test_branch_and_rev_targets():
    assert parse_constraint("==develop").target == "develop"
    assert parse_constraint(f"=={COMMIT}").target == COMMIT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("=>v1", "uses unknown operator '=>'; use one of ==, !=, >=, <=, >, <"),
        (">>v1", "uses unknown operator '>>'; use one of ==, !=, >=, <=, >, <"),
        ("~>v1", "uses unknown operator '~>'; use one of ==, !=, >=, <=, >, <"),
        ("~=v1.0", "uses unknown operator '~='; use one of ==, !=, >=, <=, >, <"),
        ("===v1", "uses unknown operator '==='; use one of ==, !=, >=, <=, >, <"),
        ("v1.0", "has 'v1.0' where an operator (==, !=, >=, <=, >, <) should be"),
        (">=", "has nothing after '>='"),
        (">= ", "has nothing after '>='"),
        (">=v1,", "has an empty clause between commas"),
        (",>=v1", "has an empty clause between commas"),
        ("==v1 .0", "has a space inside 'v1 .0'"),
        ("<=develop", "compares 'develop', which is not a version; a branch or commit can only be named alone with '=='"),
        ("==develop,>=v1", "compares 'develop', which is not a version; a branch or commit can only be named alone with '=='"),
        (f"!={COMMIT}", f"compares '{COMMIT}', which is not a version; a branch or commit can only be named alone with '=='"),
        ("==de..v", "names 'de..v', which is neither a version nor a valid branch name"),
        ("==-x", "names '-x', which is neither a version nor a valid branch name"),
        (">=v1.*", "'>=v1.*' is not a valid version range"),
        ("==v1.*.2", "'==v1.*.2' is not a valid version range"),
    ],
)
def test_parse_constraint_errors(text, message):
    with pytest.raises(ValueError) as caught:
        parse_constraint(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "version", "prereleases", "allowed"),
    [
        ("", "1.0", False, True),
        (">=v1.0.0-rc1,<v1.0.0", "1.0.0rc1", True, True),  # a tag range over release candidates holds them
        (">=v1.0.0-rc1,<v1.0.0", "1.0.0rc2", True, True),
        (">=v1.0.0-rc1,<v1.0.0", "1.0.0", True, False),
        ("<v2.0.0", "2.0.0rc1", False, False),  # prereleases still only when a constraint names one
        ("", "1.1rc1", False, False),
        ("", "1.1rc1", True, True),
        (">=v1.0", "1.1rc1", False, False),
        (">=v1.0", "1.1rc1", True, True),
        (">=v1.0,<v2", "2.0", False, False),
        ("==v1.*", "1.10", False, True),
        ("==v1.*", "10.0", False, False),
        ("!=v2.0.0", "2.0", False, False),
        ("==v1.0", "1.0.0", False, True),
        ("==develop", "1.0", True, False),
        (f"=={COMMIT}", "1.0", True, False),
    ],
)
def test_allows(text, version, prereleases, allowed):
    assert parse_constraint(text).allows(Version(version), prereleases) is allowed


@pytest.mark.parametrize(("text", "names"), [("==v1.0.0-rc1", True), (">=1.0b2", True), (">=v1.0.0,<v2", False), ("==develop", False), ("", False)])
def test_names_prerelease(text, names):
    assert parse_constraint(text).names_prerelease is names


def test_intersect_keeps_each_clause_once_in_order():
    merged = intersect([parse_constraint(">=v1,<v3"), parse_constraint("<v3,!=v2.0.0"), Constraint()])
    assert merged == Constraint((Clause(op=">=", value="v1"), Clause(op="<", value="v3"), Clause(op="!=", value="v2.0.0")))
    assert str(merged) == ">=v1,<v3,!=v2.0.0"
