"""allowed_sources and credentials match source URL prefixes on path boundaries only."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shaker_core.git import Credentials
from shaker_core.sources import allowed, under_prefix


@pytest.mark.parametrize(
    ("url", "prefix", "expected"),
    [
        ("https://git.example.com/org/a-formula.git", "https://git.example.com/org", True),
        ("https://git.example.com/org/a-formula.git", "https://git.example.com/org/", True),
        ("https://git.example.com/org", "https://git.example.com/org", True),
        ("https://git.example.com/org-evil/a-formula.git", "https://git.example.com/org", False),
        ("https://git.example.com.evil.org/org/a.git", "https://git.example.com", False),
        ("https://git.example.com:8443/org/a.git", "https://git.example.com", False),
        ("git@github.com:org/a-formula.git", "git@github.com:", True),
        ("git@github.com:org/a-formula.git", "git@github.com:org", True),
        ("git@github.com:organisation/a-formula.git", "git@github.com:org", False),
        ("file:///srv/forge/org/a.git", "file:///srv/forge/", True),
        ("file:///srv/forge-other/org/a.git", "file:///srv/forge", False),
    ],
)
def test_prefixes_match_on_path_boundaries(url: str, prefix: str, expected: bool) -> None:
    assert under_prefix(url, prefix) is expected
    assert allowed(url, (prefix,)) is expected


segments = st.lists(st.sampled_from(["org", "org-evil", "o", "a.git", "a-formula.git", "x"]), min_size=1, max_size=4)


@given(host=st.sampled_from(["git.example.com", "git.example.com.evil"]), url_path=segments, prefix_path=segments, slash=st.booleans())
def test_a_prefix_covers_exactly_the_urls_below_it(host: str, url_path: list[str], prefix_path: list[str], slash: bool) -> None:
    url = f"https://{host}/" + "/".join(url_path)
    prefix = "https://git.example.com/" + "/".join(prefix_path) + ("/" if slash else "")
    below = host == "git.example.com" and url_path[: len(prefix_path)] == prefix_path and (not slash or len(url_path) > len(prefix_path))
    assert allowed(url, (prefix,)) is below


def test_credentials_never_go_to_a_neighbouring_path() -> None:
    credentials = Credentials({"https://git.example.com/org": {"username": "deploy", "password": "s3cret"}})
    assert credentials.for_url("https://git.example.com/org/a-formula.git") is not None
    assert credentials.for_url("https://git.example.com/org-evil/a-formula.git") is None
    assert credentials.for_url("https://git.example.com.evil.org/org/a-formula.git") is None
