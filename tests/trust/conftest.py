"""Keys for the trust tests: made once per session with real gpg and ssh-keygen (helpers/signing.py)."""
from __future__ import annotations

import pytest
from helpers.signing import GpgKey, Keys, SshKey


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory):
    with Keys(tmp_path_factory.mktemp("keys")) as made:
        yield made


@pytest.fixture(scope="session")
def alice(keys: Keys) -> GpgKey:
    """Trusted."""
    return keys.gpg("alice")


@pytest.fixture(scope="session")
def alice2(keys: Keys) -> GpgKey:
    """Trusted too: a second key of the same team."""
    return keys.gpg("alice2")


@pytest.fixture(scope="session")
def mallory(keys: Keys) -> GpgKey:
    """Never trusted."""
    return keys.gpg("mallory")


@pytest.fixture(scope="session")
def erin(keys: Keys) -> GpgKey:
    """Trusted, but expired since it signed."""
    return keys.gpg("erin", expired=True)


@pytest.fixture(scope="session")
def bob(keys: Keys) -> SshKey:
    """Trusted (SSH)."""
    return keys.ssh("bob")


@pytest.fixture(scope="session")
def dave(keys: Keys) -> SshKey:
    """Never trusted (SSH)."""
    return keys.ssh("dave")
