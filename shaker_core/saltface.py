"""What the three Salt faces share before anything heavy is imported: how they load, and the project commands.

A face (runner, execution module, state) calls :func:`load` at import time. When
salt-shaker's dependencies cannot be imported, the face still loads and its
``__virtual__`` says why, instead of Salt logging an import traceback. The
runner and the execution module expose the same project commands; they are made
once here by :func:`project_commands`, each calling the face's own ``_run``.
"""
from __future__ import annotations

import types
from types import ModuleType
from typing import Any, Callable

INSTALL_HINT = "install it with `salt-pip install salt-shaker`"
FaceRun = Callable[..., Any]  # _run(command, root_dir, simulate, kwargs, **arguments) of a face


def load(virtualname: str) -> tuple[ModuleType | None, Callable[[], Any]]:
    """(the adapter module, or None when it cannot be imported; the face's ``__virtual__``)."""
    try:
        from . import adapter
    except ImportError as exc:
        reason = f"salt-shaker cannot load: {exc}; {INSTALL_HINT}."
        return None, lambda: (False, reason)
    return adapter, lambda: adapter.loadable(virtualname)


def project_commands(run: FaceRun, client: str, face: dict[str, Any]) -> tuple[Callable[..., Any], ...]:
    """``install, install_pinned, update, check, status`` for a face whose examples start with ``client`` (``salt-run``).

    ``face`` is the face module's ``globals()``, and each function is made with
    them as its own: Salt's loader exposes only functions whose ``__module__`` is
    the loaded module, and injects ``__jid_event__`` (the runner's progress
    events) into the globals of the function it calls.
    """
    parse_names = names_argument  # a closure cell: the functions below see the face's globals, not these

    def install(root_dir=None, simulate=False, **kwargs):
        return run("install", root_dir, simulate, kwargs)

    def install_pinned(root_dir=None, simulate=False, **kwargs):
        return run("install_pinned", root_dir, simulate, kwargs)

    def update(*names, root_dir=None, simulate=False, **kwargs):
        wanted = parse_names(list(names) + parse_names(kwargs.pop("names", None)))
        return run("update", root_dir, simulate, kwargs, names=wanted)

    def check(root_dir=None, **kwargs):
        return run("check", root_dir, True, kwargs)

    def status(root_dir=None, **kwargs):
        return run("status", root_dir, False, kwargs)

    return tuple(_as_face_function(function, face, client) for function in (install, install_pinned, update, check, status))


def _as_face_function(function: Any, face: dict[str, Any], client: str) -> Callable[..., Any]:
    made = types.FunctionType(function.__code__, face, function.__name__, function.__defaults__, function.__closure__)
    made.__kwdefaults__ = function.__kwdefaults__
    made.__qualname__ = function.__name__
    made.__doc__ = _DOCS[function.__name__].format(client=client)
    return made


def names_argument(names: Any) -> list[str]:
    """Formula names given as a list or a comma/space separated string."""
    if names is None:
        return []
    if isinstance(names, str):
        return [n for n in names.replace(",", " ").split() if n]
    return [str(n) for n in names]


_EXAMPLE = """

    CLI Example:

    .. code-block:: bash

        {{client}} shaker.{command}
"""
_DOCS = {
    name: summary + _EXAMPLE.format(command=example)
    for name, summary, example in (
        ("install", "Resolve metadata.yml to the newest allowed versions, write the lock, publish ``vendor/_root``.",
         "install root_dir=/srv/salt/project"),
        ("install_pinned", "Publish exactly what formula-requirements.txt pins (no resolution).",
         "install_pinned root_dir=/srv/salt/project remote_check=True"),
        ("update", "Move the named formulas (all when none) to the newest allowed versions.",
         "update my_org/nginx-formula root_dir=/srv/salt/project"),
        ("check", "What ``install`` would change in the lock; writes nothing.", "check root_dir=/srv/salt/project"),
        ("status", "What ``vendor/_root`` serves, against the lock.", "status root_dir=/srv/salt/project"),
    )
}
