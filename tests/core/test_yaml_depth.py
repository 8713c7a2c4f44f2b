"""YAML depth, syntax errors and keys given twice are decided by salt-shaker, not by whichever PyYAML or libyaml is installed.

libyaml 0.2.5 (bundled with PyYAML 6.0.4) refuses nesting past 1,000 levels in
its scanner; older builds overflow the C stack; the pure-Python parser has no
limit. Every check here runs with the C composer and the pure-Python one, on
generated documents of random shape and depth, against an oracle that counts
the depth from the pure-Python event stream.
"""
from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaker_core import yamlsafe
from shaker_core.errors import ManifestError
from shaker_core.manifest import parse_manifest

TOO_DEEP = "metadata.yml is nested too deeply; flatten it."
UNREADABLE = "metadata.yml is not valid YAML (a value cannot be read, such as a date that does not exist or an escape past U+10FFFF); fix it."


@pytest.fixture(params=sorted(yamlsafe.COMPOSERS))
def composer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(yamlsafe, "composer_kind", request.param)
    return request.param


def test_both_composers_are_available() -> None:
    assert set(yamlsafe.COMPOSERS) == {"c", "python"}, "PyYAML without libyaml: the C half of these tests would not run"


def oracle_depth(text: str) -> int:
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def nested(depth: int, shapes: list[str]) -> object:
    """A value ``depth`` collections deep; ``shapes`` picks list or mapping at each level."""
    value: object = "leaf"
    for level in range(depth):
        value = [value] if shapes[level % len(shapes)] == "list" else {f"k{level}": value}
    return value


documents = st.builds(
    lambda depth, shapes, flow, indent, width: yaml.safe_dump(
        {"dependencies": nested(depth, shapes)}, default_flow_style=flow, indent=indent, width=width
    ),
    depth=st.integers(0, 140),
    shapes=st.lists(st.sampled_from(["list", "map"]), min_size=1, max_size=5),
    flow=st.sampled_from([True, False, None]),
    indent=st.integers(2, 9),
    width=st.sampled_from([20, 80, 10_000]),
)

compact = st.builds(
    lambda prefix, dashes, indent: prefix + " " * indent + "- " * dashes + "x\n",
    prefix=st.sampled_from(["", "dependencies:\n", "a:\n  b:\n"]),
    dashes=st.integers(1, 130),
    indent=st.integers(0, 4),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(documents, compact))
def test_the_cheap_bound_never_underestimates(text: str) -> None:
    try:
        actual = oracle_depth(text)
    except yaml.YAMLError:
        return
    assert yamlsafe.depth_bound(text) >= actual


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(documents, compact))
def test_refused_exactly_when_deeper_than_the_limit(composer: str, text: str) -> None:
    try:
        depth = oracle_depth(text)
    except yaml.YAMLError:
        with pytest.raises(ManifestError):
            yamlsafe.load_yaml(text, "metadata.yml")
        return
    if depth > yamlsafe.MAX_DEPTH:
        with pytest.raises(ManifestError) as caught:
            yamlsafe.load_yaml(text, "metadata.yml")
        assert str(caught.value) == TOO_DEEP
    else:
        assert yamlsafe.load_yaml(text, "metadata.yml") == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 101 + "]" * 101,
        "[" * 1001 + "]" * 1001,  # past libyaml's own scanner limit
        "[" * 200_000 + "]" * 200_000,  # would overflow the C stack in an older libyaml
        "{a: " * 1500 + "1" + "}" * 1500,
        "".join(" " * i + "-\n" for i in range(1005)),  # block levels past libyaml's limit
        "dependencies: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
    ids=["101 flow", "1001 flow", "200k flow", "1500 flow maps", "1005 block", "5000 under a key"],
)
def test_deep_documents_give_the_one_sentence(composer: str, text: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert str(caught.value) == TOO_DEEP


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [\n", "metadata.yml: line 2, column 1 is not valid YAML (expected the node content, but found '<stream end>'); fix the syntax."),
        ("a: b: c\n", "metadata.yml: line 1, column 5 is not valid YAML (mapping values are not allowed here); fix the syntax."),
        ("- a\nb: c\n", "metadata.yml: line 2, column 1 is not valid YAML (expected <block end>, but found '?'); fix the syntax."),
        ("released: 2001-13-01\n", UNREADABLE),
        ('dependencies: ["\\U800010000"]\n', UNREADABLE),
        ("dependencies:\x00 []\n", "metadata.yml is not valid YAML (character U+0000 at offset 13 is not allowed in YAML); remove it."),
    ],
)
def test_syntax_errors_read_the_same_with_either_composer(composer: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert str(caught.value) == message


def test_ordinary_files_skip_the_event_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = []
    real_parse = yaml.parse
    monkeypatch.setattr(yaml, "parse", lambda *args, **kwargs: walked.append(1) or real_parse(*args, **kwargs))
    text = "dependencies:\n" + "".join(f"  - org/f{i}-formula>=v1.{i}.0\n" for i in range(300))
    assert len(yamlsafe.load_yaml(text, "metadata.yml")["dependencies"]) == 300
    assert walked == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies: [a]\nformula: org/x\ndependencies: [b]\n", "metadata.yml: the key 'dependencies' is given twice (lines 1 and 3); keep one of them."),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", "metadata.yml: the key 'b' is given twice (lines 2 and 4); keep one of them."),
    ],
)
def test_a_key_given_twice_is_refused_with_both_lines(composer: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        yamlsafe.load_yaml(text, "metadata.yml")
    assert str(caught.value) == message


def test_keys_that_differ_in_type_are_two_keys(composer: str) -> None:
    assert yamlsafe.load_yaml('1: a\n"1": b\n', "metadata.yml") == {1: "a", "1": "b"}


def test_a_formula_file_with_a_key_twice_is_refused() -> None:
    from shaker_core import formula_file

    with pytest.raises(ManifestError) as caught:
        formula_file.parse("name: linux\nversion: 1.0\nname: other\n", "org/linux-formula@abc/FORMULA")
    assert str(caught.value) == "org/linux-formula@abc/FORMULA: the key 'name' is given twice (lines 1 and 3); keep one of them."
