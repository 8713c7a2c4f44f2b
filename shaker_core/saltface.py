"""What the three Salt faces share before anything heavy is imported: how they load.

A face (runner, execution module, state) calls :func:`load` at import time. When
salt-shaker's dependencies cannot be imported, the face still loads and its
``__virtual__`` says why, instead of Salt logging an import traceback.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

INSTALL_HINT = "install it with `salt-pip install salt-shaker`"


def load(virtualname: str) -> tuple[ModuleType | None, Callable[[], Any]]:
    """(the adapter module, or None when it cannot be imported; the face's ``__virtual__``)."""
    try:
        from . import adapter
    except ImportError as exc:
        reason = f"salt-shaker cannot load: {exc}; {INSTALL_HINT}."
        return None, lambda: (False, reason)
    return adapter, lambda: adapter.loadable(virtualname)
