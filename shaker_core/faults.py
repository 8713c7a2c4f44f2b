"""Named points where a test can kill or interrupt salt-shaker, to prove a crash or a Ctrl-C loses nothing.

``SHAKER_FAULT_POINT=<name>`` sends the process a signal when it reaches that
point, like git's GIT_TEST_* variables: SIGKILL, or the one
``SHAKER_FAULT_SIGNAL`` names (``INT``, ``TERM``). Unset, a point costs one
dictionary look-up.
Points: before-fetch, mid-fetch, mid-export, after-build, after-stage,
after-switch, after-publish.
"""
from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    """Die here if the test asked for it."""
    if os.environ.get("SHAKER_FAULT_POINT") == name:
        os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get("SHAKER_FAULT_SIGNAL", "KILL")))
