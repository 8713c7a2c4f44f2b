"""salt-shaker as an execution module: minions and masterless ``salt-call`` sync formula roots.

Settings come from the ``shaker:`` mapping of the minion config, then pillar,
then the arguments; later wins. Failures raise CommandExecutionError with
salt-shaker's one-sentence message.
"""
import logging

import salt.version
from salt.exceptions import CommandExecutionError

from shaker_core.saltface import load as _load

log = logging.getLogger(__name__)

__virtualname__ = "shaker"
adapter, __virtual__ = _load(__virtualname__)


def install(root_dir=None, simulate=False, **kwargs):
    """Resolve metadata.yml to the newest allowed versions, write the lock, publish ``vendor/_root``.

    CLI Example:

    .. code-block:: bash

        salt-call --local shaker.install root_dir=/srv/salt/project
    """
    return _run("install", root_dir, simulate, kwargs)


def install_pinned(root_dir=None, simulate=False, **kwargs):
    """Publish exactly what formula-requirements.txt pins (no resolution).

    CLI Example:

    .. code-block:: bash

        salt '*' shaker.install_pinned root_dir=/srv/salt/project
    """
    return _run("install_pinned", root_dir, simulate, kwargs)


def update(*names, root_dir=None, simulate=False, **kwargs):
    """Move the named formulas (all when none) to the newest allowed versions.

    CLI Example:

    .. code-block:: bash

        salt-call --local shaker.update my_org/nginx-formula root_dir=/srv/salt/project
    """
    wanted = adapter.names_argument(list(names) + adapter.names_argument(kwargs.pop("names", None)))
    return _run("update", root_dir, simulate, kwargs, names=wanted)


def check(root_dir=None, **kwargs):
    """What ``install`` would change in the lock; writes nothing.

    CLI Example:

    .. code-block:: bash

        salt-call --local shaker.check root_dir=/srv/salt/project
    """
    return _run("check", root_dir, True, kwargs)


def status(root_dir=None, **kwargs):
    """What ``vendor/_root`` serves, against the lock.

    CLI Example:

    .. code-block:: bash

        salt-call --local shaker.status root_dir=/srv/salt/project
    """
    return _run("status", root_dir, False, kwargs)



def _run(command, root_dir, simulate, kwargs, **arguments):
    arguments_in = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    arguments_in.update(root_dir=root_dir, simulate=simulate or None, salt_version=salt.version.__version__)
    try:
        settings = adapter.settings_from(__opts__.get("shaker"), __pillar__.get("shaker"), arguments_in, trigger="module")
        report = adapter.run(command, settings, **arguments)
    except adapter.ShakerError as exc:
        # Only the message: with info= salt appends "Additional info follows:" and the
        # whole failure dict as YAML, so the operator would read the sentence twice.
        raise CommandExecutionError(exc.message) from None
    if report.get("published") and __opts__.get("file_client") == "local":
        _clear_local_file_list_cache()
    return report


def _clear_local_file_list_cache():
    """Masterless: the local roots backend caches its file list too."""
    import salt.fileserver

    salt.fileserver.Fileserver(__opts__).clear_file_list_cache({"backend": "roots"})
