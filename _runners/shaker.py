"""salt-shaker on the master: ``salt-run shaker.install`` and friends.

Settings come from the ``shaker:`` mapping of the master config, then the
arguments. After a publish that changed something, the roots file-list cache is
cleared and ``shaker/install/complete`` is fired; on failure
``shaker/install/failed`` is fired and the job fails (``success: False`` and a
non-zero ``retcode``), because ``salt-run`` otherwise exits 0.
"""
import logging

log = logging.getLogger(__name__)

__virtualname__ = "shaker"

try:
    from shaker_core import adapter
    from shaker_core.errors import ShakerError
    from shaker_core.git import check_pygit2

    _IMPORT_ERROR = None
except ImportError as exc:  # reported by __virtual__
    _IMPORT_ERROR = exc


def __virtual__():
    if _IMPORT_ERROR is not None:
        return False, f"salt-shaker cannot load: {_IMPORT_ERROR}; install it with `salt-pip install salt-shaker`."
    reason = check_pygit2()
    if reason:
        return False, f"salt-shaker cannot load: {reason}."
    return __virtualname__


def install(root_dir=None, simulate=False, **kwargs):
    """Resolve metadata.yml to the newest allowed versions, write the lock, publish ``vendor/_root``.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.install root_dir=/srv/salt/project
    """
    return _run("install", root_dir, simulate, kwargs)


def install_pinned(root_dir=None, simulate=False, **kwargs):
    """Publish exactly what formula-requirements.txt pins (no resolution).

    CLI Example:

    .. code-block:: bash

        salt-run shaker.install_pinned root_dir=/srv/salt/project remote_check=True
    """
    return _run("install_pinned", root_dir, simulate, kwargs)


def update(*names, root_dir=None, simulate=False, **kwargs):
    """Move the named formulas (all when none) to the newest allowed versions.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.update my_org/nginx-formula root_dir=/srv/salt/project
    """
    wanted = adapter.names_argument(list(names) + adapter.names_argument(kwargs.pop("names", None)))
    return _run("update", root_dir, simulate, kwargs, names=wanted)


def check(root_dir=None, **kwargs):
    """What ``install`` would change in the lock; writes nothing.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.check root_dir=/srv/salt/project
    """
    return _run("check", root_dir, True, kwargs)


def status(root_dir=None, **kwargs):
    """What ``vendor/_root`` serves, against the lock.

    CLI Example:

    .. code-block:: bash

        salt-run shaker.status root_dir=/srv/salt/project
    """
    return _run("status", root_dir, False, kwargs)


def _run(command, root_dir, simulate, kwargs, **arguments):
    arguments_in = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    arguments_in.update(root_dir=root_dir, simulate=simulate or None)
    try:
        settings = adapter.settings_from(__opts__.get("shaker"), None, arguments_in, trigger="runner")
        report = adapter.run(command, settings, progress=_progress(), **arguments)
    except ShakerError as exc:
        result = adapter.failure(command, exc)
        _fire("shaker/install/failed", {**result, "root_dir": root_dir or (__opts__.get("shaker") or {}).get("root_dir")})
        return result
    if report.get("published"):
        _after_publish(report)
    return report


def _after_publish(report):
    __salt__["fileserver.clear_file_list_cache"]()
    _fire(
        "shaker/install/complete",
        {
            "command": report["command"],
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
    done = set()

    def fire(name, received, total):
        if received >= total and name not in done:
            done.add(name)
            jid_event.fire_event({"message": f"fetched {name}"}, "progress")

    return fire
