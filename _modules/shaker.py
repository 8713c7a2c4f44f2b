"""salt-shaker as an execution module: minions and masterless ``salt-call`` sync formula roots.

Settings come from the ``shaker:`` mapping of the minion config, then pillar,
then the arguments; later wins. Failures raise CommandExecutionError with
salt-shaker's one-sentence message.
"""
import salt.version
from salt.exceptions import CommandExecutionError

from shaker_core.saltface import load as _load
from shaker_core.saltface import project_commands as _project_commands

__virtualname__ = "shaker"
adapter, __virtual__ = _load(__virtualname__)


def _run(command, root_dir, simulate, kwargs, **arguments):
    try:
        report = adapter.call(command, __opts__.get("shaker"), __pillar__.get("shaker"), {**kwargs, "root_dir": root_dir, "simulate": simulate or None},
                              trigger="module", salt_version=salt.version.__version__, **arguments)
    except adapter.ShakerError as exc:
        # Only the message: with info= salt appends "Additional info follows:" and the
        # whole failure dict as YAML, so the operator would read the sentence twice.
        raise CommandExecutionError(exc.message) from None
    if report.get("published") and __opts__.get("file_client") == "local":
        _clear_local_file_list_cache()
    return report


install, install_pinned, update, check, status = _project_commands(_run, "salt-call --local", globals())


def served(saltenv=None):
    """What the master serves for this minion's saltenv: the release, project commit, signer and formula versions.

    Read through the fileserver (``salt://_shaker/release.json``), so it works on
    any minion, without salt-shaker's settings or the master's disk.

    CLI Example:

    .. code-block:: bash

        salt '*' shaker.served
        salt '*' shaker.served saltenv=feature_x
    """
    env = saltenv or __opts__.get("saltenv") or "base"
    try:
        return adapter.served_release(__salt__["cp.get_file_str"](adapter.RELEASE_URL, saltenv=env), env)
    except adapter.ShakerError as exc:
        raise CommandExecutionError(exc.message) from None


def _clear_local_file_list_cache():
    """Masterless: the local roots backend caches its file list too."""
    import salt.fileserver

    salt.fileserver.Fileserver(__opts__).clear_file_list_cache({"backend": "roots"})
