"""Check the installed distribution from its own metadata, not from the source tree.

    python .ci/check_installed.py DIST_DIR

Fails when salt-shaker is imported from anywhere but site-packages, when the
wheel lacks a package, or when the ``salt.loader`` entry point is missing or
names directories that do not hold the Salt faces.
"""
from __future__ import annotations

import importlib.metadata
import sys
import sysconfig
import tarfile
from pathlib import Path

SALT_FACES = {"runners": "shaker_runners", "modules": "shaker_modules", "states": "shaker_states"}


def main(dist_dir: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    import shaker_core

    assert Path(shaker_core.__file__).resolve().is_relative_to(site), f"shaker_core imported from {shaker_core.__file__}, not the wheel"
    entry_points = importlib.metadata.distribution("salt-shaker").entry_points
    loaders = [ep for ep in entry_points if ep.group == "salt.loader"]
    assert len(loaders) == 1, f"expected one salt.loader entry point, found {loaders}"
    dirs = loaders[0].load()()
    assert set(dirs) == set(SALT_FACES), dirs
    for kind, paths in dirs.items():
        assert any((Path(path) / "shaker.py").is_file() and Path(path).resolve().is_relative_to(site) for path in paths), (kind, paths)
    scripts = [ep.name for ep in entry_points if ep.group == "console_scripts"]
    assert scripts == ["salt-shaker"], scripts
    (sdist,) = dist_dir.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("README.rst", "setup.py", "pyproject.toml", "shaker_core/cli.py", "_runners/shaker.py", "_modules/shaker.py", "_states/shaker.py"):
        assert needed in names, f"the sdist lacks {needed}"
    print(f"check_installed: salt-shaker {importlib.metadata.version('salt-shaker')} from {site}, entry points and sdist complete")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
