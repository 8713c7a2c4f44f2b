"""Named points where a test can kill salt-shaker with SIGKILL, to prove a crash loses nothing.

``SHAKER_FAULT_POINT=<name>`` kills the process when it reaches that point,
like git's GIT_TEST_* variables; unset, a point costs one dictionary look-up.
Points: before-fetch, mid-fetch, mid-export, after-build, after-stage,
after-switch, after-publish.
"""
from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    """Die here if the test asked for it."""
    if os.environ.get("SHAKER_FAULT_POINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
