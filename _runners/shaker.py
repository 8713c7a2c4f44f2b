"""salt-shaker on the master: ``salt-run shaker.install`` and friends.

Settings come from the ``shaker:`` mapping of the master config, then the
arguments. After a publish that changed something, the roots file-list cache is
cleared and ``shaker/install/complete`` is fired; on failure
``shaker/install/failed`` is fired and the job fails (``success: False`` and a
non-zero ``retcode``), because ``salt-run`` otherwise exits 0.
"""
import logging

import salt.version

from shaker_core.progress import RunProgress as _RunProgress
from shaker_core.saltface import load as _load
from shaker_core.saltface import project_commands as _project_commands

log = logging.getLogger(__name__)

__virtualname__ = "shaker"
adapter, __virtual__ = _load(__virtualname__)


def outdated(root_dir=None, **kwargs):
    """Each locked formula's locked tag, the newest its constraints allow and the newest at all.

    ``pending`` is True (and the job's retcode 1) when anything could move.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.outdated
    """
    report = _run("outdated", root_dir, False, kwargs)
    if report.get("pending"):
        report["retcode"] = 1
    return report


def sync(*saltenvs, root_dir=None, **kwargs):
    """Fetch the project repository and deploy it: every environment from its branches, or the saltenvs named.

    One environment that fails keeps its last good release serving and does not
    stop the others; the job fails (``retcode``) when any did.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.sync
        salt-run shaker.sync feature_x
    """
    return _run("sync_project", root_dir, False, kwargs, saltenvs=list(saltenvs))


def webhook(hook=None, root_dir=None, **kwargs):
    """Verify a git push webhook and sync what it names; called by the reactor with the event data.

    The signature (GitHub ``X-Hub-Signature-256``, Gitea ``X-Gitea-Signature``,
    GitLab ``X-Gitlab-Token`` or the generic HMAC header) is checked against
    ``shaker:webhook:secret`` before anything else; a bad one fails the job and
    changes nothing.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.webhook hook='{"headers": {...}, "body": "..."}'
    """
    webhook_settings = (__opts__.get("shaker") or {}).get("webhook")
    return _run("webhook", root_dir, False, kwargs, webhook=webhook_settings, event_data=hook or {})


def reconcile(root_dir=None, **kwargs):
    """Sync as a push to every tracked source would: for a ``schedule`` entry.

    With no project repository and ``remote_check`` off, nothing changed means
    no network access at all.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.reconcile
    """
    return _run("reconcile", root_dir, False, kwargs)


def history(root_dir=None, **kwargs):
    """The releases kept for rollback, newest first, and the recent deploys.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.history
    """
    return _run("history", root_dir, False, kwargs)


def rollback(release=None, root_dir=None, **kwargs):
    """Switch ``vendor/_root`` back to the previous release (or ``release``), atomically.

    The next sync moves forward again unless syncing is suspended.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.rollback
        salt-run shaker.rollback release=0123456789abcdef
    """
    return _run("rollback", root_dir, False, kwargs, release=release)


def suspend(reason="", root_dir=None, **kwargs):
    """Make every sync a no-op that reports ``reason``, until ``shaker.resume``.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.suspend reason="incident 42: hold formulas"
    """
    return _run("suspend", root_dir, False, kwargs, reason=reason, by=__opts__.get("id", "master"))


def resume(root_dir=None, **kwargs):
    """Let syncs run again after ``shaker.suspend``.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.resume
    """
    return _run("resume", root_dir, False, kwargs)



def _run(command, root_dir, simulate, kwargs, **arguments):
    try:
        report = adapter.call(command, __opts__.get("shaker"), None, {**kwargs, "root_dir": root_dir, "simulate": simulate or None},
                              trigger="runner", salt_version=salt.version.__version__, progress=_progress(), **arguments)
    except adapter.ShakerError as exc:
        result = exc.failure(command)
        _fire("shaker/install/failed", {**result, "root_dir": root_dir or (__opts__.get("shaker") or {}).get("root_dir")})
        return result
    published = adapter.published_reports(report)
    if published:
        __salt__["fileserver.clear_file_list_cache"]()
    for each in published:
        _fire_complete(each)
    if report.get("success") is False:
        _fire("shaker/install/failed", {k: report.get(k) for k in ("command", "error", "message", "retcode")})
    return report


install, install_pinned, update, check, status = _project_commands(_run, "salt-run", globals())


def _fire_complete(report):
    _fire(
        "shaker/install/complete",
        {
            "command": report["command"],
            "saltenv": report.get("saltenv"),
            "root_dir": report["root_dir"],
            "release": report["release"],
            "previous_release": report.get("previous_release"),
            "changes": report.get("served_changes", {}),
            "module_dirs_changed": report.get("module_dirs_changed", False),
        },
    )


def _fire(tag, data):
    import salt.utils.event

    with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
        bus.fire_event(data, tag)


def _progress():
    jid_event = globals().get("__jid_event__")
    if jid_event is None:
        return None
    # Fetches run in a thread pool; RunProgress calls this one call at a time (the job
    # event's sync wrapper drives one io_loop, which two threads cannot run together),
    # and a progress message must never break the install.

    def fire(counts):
        if counts.change != "fetched":
            return
        try:
            jid_event.fire_event({"message": f"fetched {counts.name}", **counts.as_event()}, "progress")
        except Exception as exc:  # pylint: disable=broad-except
            log.debug("could not fire the progress event for %s: %s", counts.name, exc)

    return _RunProgress(fire)
