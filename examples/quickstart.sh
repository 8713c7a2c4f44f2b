#!/bin/sh
# Set up salt-shaker in .venv, build the example forge and install the example project.
# Needs Python 3.10+ and git; reaches only the Python package index.
set -eu
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
.venv/bin/python examples/make_forge.py
.venv/bin/salt-shaker --root_dir examples/project install
echo "--- formula root served from examples/project/vendor/_root:"
(cd examples/project/vendor/_root/ && find . -mindepth 1 | sort)
