"""Fuzzing the readers of untrusted text with hypothesis (bounded here; fuzz_long.py runs many more examples).

Every generated metadata.yml (structured, mutated, raw text and raw bytes),
dependency string and lock text either parses into a valid model or raises the
reader's ShakerError with a printable one-line message, never another exception;
a lock that was written always reads back to the same model. See fuzzkit.py.
"""
from __future__ import annotations

import pytest
from fuzzkit import (
    check_lock_text,
    check_manifest,
    check_requirement,
    check_round_trip,
    dependency_strings,
    good_locks,
    lock_texts,
    raw_bytes,
    raw_texts,
    structured_texts,
)
from hypothesis import HealthCheck, given, settings

from shaker_core.errors import LockFileError, ManifestError

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)


@FAST
@given(structured_texts)
def test_structured_metadata_parses_or_is_refused(text: str) -> None:
    check_manifest(text)
    check_manifest(text, root=False)


@FAST
@given(raw_texts)
def test_mutated_and_raw_metadata_text_parses_or_is_refused(text: str) -> None:
    check_manifest(text)


@FAST
@given(raw_bytes)
def test_raw_metadata_bytes_parse_or_are_refused(data: bytes) -> None:
    check_manifest(data)


@settings(max_examples=600, deadline=None)
@given(dependency_strings)
def test_dependency_strings_parse_or_are_refused(text: str) -> None:
    check_requirement(text)


@settings(max_examples=400, deadline=None)
@given(lock_texts)
def test_lock_text_parses_or_is_refused(text: str) -> None:
    check_lock_text(text)


@settings(max_examples=200, deadline=None)
@given(good_locks)
def test_a_written_lock_reads_back_to_the_same_model(lock) -> None:
    check_round_trip(lock)


@pytest.mark.parametrize(
    ("checker", "text"),
    [  # shapes the fuzzer found or that must stay covered whatever the random seed
        (check_manifest, "dependencies:\n  - org/a-formula\x1b[31m\n"),
        (check_manifest, b"dependencies: [\xc3\x28]\n"),
        (check_manifest, "dependencies: [{name: org/a-formula, version: .inf}]\n"),
        (check_manifest, "dependencies: [{name: org/a-formula, version: .nan}]\n"),
        (check_manifest, "environments: {1: [org/a-formula]}\n"),
        (check_manifest, "? [a, b]\n: c\n"),
        (check_manifest, "dependencies: [!!binary aGVsbG8=]\n"),
        (check_manifest, "dependencies: [2001-01-01]\n"),
        (check_manifest, '"unknown\\e[2J\\nkey": 1\n'),
        (check_requirement, "https://[::1/org/a.git"),
        (check_requirement, "https://h:99999/org/a.git==v1"),
        (check_requirement, "org/a-formula==v1.0\u202e"),
        (check_requirement, "--upload-pack=touch /tmp/x"),
        (check_manifest, "\ud800{}\n"),
        (check_requirement, "org/\udcff-formula"),
        (check_lock_text, "org/a-formula==\udcff\n"),
        (check_lock_text, "org/a-formula==v1.0.0 - https://h/org/a.git\n"),
        (check_lock_text, "org/a-formula==v1.0.0 #c\n"),
        (check_lock_text, "https://u:p@h:1/org/a.git==v1\n"),
    ],
)
def test_known_shapes(checker, text) -> None:
    checker(text)


def test_the_checkers_see_errors_and_models() -> None:
    """The properties are not vacuous: both outcomes occur and are told apart."""
    assert check_manifest("dependencies: [org/a-formula>=v1.0]\n").requirements[0].name == "org/a-formula"
    assert check_manifest("dependencies: [org/a=>v1]\n") is None
    assert check_requirement("org/a-formula>=v1.0,<v2") is not None and check_requirement("org/a b") is None
    assert check_lock_text("org/a-formula==v1.0.0\n") is not None and check_lock_text("org/a-formula>=v1\n") is None
    with pytest.raises(ManifestError):
        raise ManifestError("x")
    with pytest.raises(LockFileError):
        raise LockFileError("y")
