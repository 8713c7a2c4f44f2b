"""salt-shaker's core: resolve formula dependencies, pin them, publish a formula root.

This package never imports salt; the Salt faces in ``_runners``, ``_modules`` and
``_states`` call :mod:`shaker_core.api`.
"""

__version__ = "2.0.0.dev0"
