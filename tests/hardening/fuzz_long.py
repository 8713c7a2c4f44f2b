"""The fuzzing properties of test_fuzz.py with many more examples: run by hand from the repository root, not by pytest.

    .venv/bin/python tests/hardening/fuzz_long.py              # 20,000 examples per property
    .venv/bin/python tests/hardening/fuzz_long.py 100000       # more
    .venv/bin/python tests/hardening/fuzz_long.py 5000 lock    # only the properties whose name holds 'lock'
    .venv/bin/python tests/hardening/fuzz_long.py 5000 symlink # generated symlink trees, realpath oracle

Each property (see fuzzkit.py) runs with hypothesis, printing its time; the first
failure prints the shrunk example and the script exits 1. The examples database is
kept in .hypothesis/ at the current directory, so a failure found here is tried first
by the next run (and by the normal suite run from the same directory).
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]

from fuzzkit import (  # noqa: E402
    check_lock_text,
    check_manifest,
    check_requirement,
    check_round_trip,
    dependency_strings,
    good_locks,
    lock_texts,
    raw_bytes,
    raw_texts,
    structured_texts,
)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from symlinkkit import check as check_symlink_tree  # noqa: E402
from symlinkkit import trees as symlink_trees  # noqa: E402


def check_symlinks_in_a_fresh_vendor(generated: dict) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        check_symlink_tree(Path(scratch), generated)


PROPERTIES = {
    "structured metadata.yml": (structured_texts, lambda text: (check_manifest(text), check_manifest(text, root=False))),
    "mutated and raw metadata.yml text": (raw_texts, check_manifest),
    "raw metadata.yml bytes": (raw_bytes, check_manifest),
    "dependency strings": (dependency_strings, check_requirement),
    "lock text": (lock_texts, check_lock_text),
    "written lock round trip": (good_locks, check_round_trip),
    "symlink trees": (symlink_trees, check_symlinks_in_a_fresh_vendor),
}


def _returning_none(check):
    def run(value):
        check(value)

    return run


def main(argv: list[str]) -> int:
    logging.disable(logging.CRITICAL)  # 'unknown key ... is ignored' warnings by the thousand
    examples = int(argv[1]) if len(argv) > 1 else 20_000
    wanted = argv[2] if len(argv) > 2 else ""
    failed = 0
    for name, (strategy, check) in PROPERTIES.items():
        if wanted not in name:
            continue
        started = time.monotonic()

        try:
            settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))(given(strategy)(_returning_none(check)))()
        except Exception as exc:  # noqa: BLE001 - report and go on to the next property
            failed += 1
            print(f"FAIL  {name}: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"ok    {name}: {examples} examples in {time.monotonic() - started:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
