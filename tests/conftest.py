"""Shared by every test directory: git runs isolated from the real user's configuration.

The session fixture points HOME and XDG_CONFIG_HOME at an empty temp dir, turns off
git's system and global config files, fixes author and committer identity, and drops
any GIT_* or SHAKER_* variable inherited from the caller. Subprocesses (git, the
salt-shaker CLI) inherit this environment. libgit2 does not read GIT_CONFIG_* and
computed its search path when pygit2 was imported, so the in-process search path is
pointed at the empty HOME as well.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so `import helpers` works from any test dir

if TYPE_CHECKING:
    from helpers.signing import GpgKey, Keys, SshKey

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Forge Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.invalid",
    "GIT_COMMITTER_NAME": "Forge Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.invalid",
}


@pytest.fixture(autouse=True)
def salt_logging_to_pytest() -> None:
    """Hand log records to pytest's handlers instead of salt's deferred stderr handler.

    Importing salt (the salt-factories plugin does) installs a temporary handler on the
    root logger that keeps every record until salt configures logging, and flushes them
    at exit into pytest's closed capture stream ("--- Logging error ---" pages), the
    records the daemons forward while they stop among them. Salt sets it up again as
    more of it is imported, so this runs before every test. The minimum-versions run
    has no Salt, and then there is nothing to hand over.
    """
    try:
        import salt._logging.impl
    except ImportError:
        return
    salt._logging.impl.shutdown_temp_handler()


@pytest.fixture(scope="session", autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("GIT_", "SHAKER_")) and name != "GIT_SSL_CAINFO":
                patch.delenv(name)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
        patch.setenv("GIT_TERMINAL_PROMPT", "0")
        for name, value in GIT_IDENTITY.items():
            patch.setenv(name, value)
        _isolate_libgit2(home)
        yield home


def _isolate_libgit2(home: Path) -> None:
    try:
        import pygit2
    except ImportError:  # the pure core tests do not need it
        return
    levels = pygit2.enums.ConfigLevel
    for level in (levels.SYSTEM, levels.XDG, levels.GLOBAL, levels.PROGRAMDATA):
        pygit2.settings.search_path[level] = str(home)
    pygit2.settings.homedir = str(home)  # where libgit2 reads ~/.ssh/known_hosts; it caches $HOME at first use


# -- signing keys (tests/trust, tests/gitops): made once per session with real gpg and ssh-keygen --

@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory):
    from helpers.signing import Keys

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
