"""Time the resolver alone on a synthetic in-memory graph (no git, no disk).

    python bench/resolve.py [--formulas 300] [--tags 10] [--repeat 5] [--forge backtrack]

Each formula has ``--tags`` version tags; formulas sit on levels and depend on
up to 3 formulas of the next level with ranges, and the oldest tags of some
formulas depend on versions that do not exist, so the resolver must look at
several candidates. Prints the median wall time of ``resolve``.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import forge  # noqa: E402

from shaker_core.manifest import Manifest, parse_manifest  # noqa: E402
from shaker_core.resolver import resolve  # noqa: E402

LEVELS = 6


class SyntheticIndex:
    """An Index over generated formulas: versions(), branches(), manifest_at()."""

    def __init__(self, formulas: int, tags: int) -> None:
        self.formulas, self.tags = formulas, tags
        self.commits: dict[str, tuple[int, int]] = {}
        self.tag_maps = {self.name(i): self._tags(i) for i in range(formulas)}

    @staticmethod
    def name(index: int) -> str:
        return f"synth/f{index}-formula"

    def level(self, index: int) -> int:
        return index * LEVELS // self.formulas

    def _tags(self, index: int) -> dict[str, str]:
        found = {}
        for t in range(self.tags):
            commit = hashlib.sha1(f"{index}/{t}".encode()).hexdigest()
            self.commits[commit] = (index, t)
            found[f"v{t // 3 + 1}.{t % 3}.0"] = commit
        return found

    def versions(self, source: str) -> dict[str, str]:
        return self.tag_maps[source]

    def branches(self, source: str) -> dict[str, str]:
        return {}

    def manifest_at(self, source: str, commit: str) -> Manifest:
        index, t = self.commits[commit]
        level = self.level(index)
        deps = []
        if level < LEVELS - 1:
            following = [j for j in range(self.formulas) if self.level(j) == level + 1]
            for k in range(3):
                j = following[(index * 7 + k * 11) % len(following)]
                # old releases ask for a major version nobody has: the resolver must move on
                bound = ">=v99.0.0" if t < 2 and k == 0 else ">=v1.0.0,<v9.0.0"
                deps.append(f"{self.name(j)}{bound}")
        return parse_manifest("dependencies:\n" + "".join(f"  - '{d}'\n" for d in deps), root=False) if deps else Manifest()


class ForgeIndex:
    """An Index over the graph ``bench/forge.py --kind`` gives its forge (the backtracking one by default), without git."""

    def __init__(self, formulas: int, tags: int, kind: str) -> None:
        self.formulas, self.tags, self.kind = formulas, tags, kind
        self.commits = {hashlib.sha1(f"{i}/{t}".encode()).hexdigest(): (i, t) for i in range(formulas) for t in range(tags)}
        self.manifests: dict[str, Manifest] = {}

    def versions(self, source: str) -> dict[str, str]:
        index = int(source.split("/f")[1].split("-")[0])
        return {f"v1.{t}.0": hashlib.sha1(f"{index}/{t}".encode()).hexdigest() for t in range(self.tags)}

    def branches(self, source: str) -> dict[str, str]:
        return {}

    def manifest_at(self, source: str, commit: str) -> Manifest:
        if commit not in self.manifests:  # generated once, so the timing is the resolver's
            index, t = self.commits[commit]
            deps = forge.dependencies(index, self.formulas, self.kind, newest=t == self.tags - 1, tags=self.tags)
            self.manifests[commit] = parse_manifest("dependencies:\n" + "".join(f"  - '{d}'\n" for d in deps), root=False) if deps else Manifest()
        return self.manifests[commit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--formulas", type=int, default=300)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--forge", choices=("plain", "backtrack"), help="the graph of bench/forge.py --kind (5 tags), instead of the synthetic one")
    parser.add_argument("--no-fast-path", action="store_true", help="resolvelib alone, without the conflict-free fast path")
    args = parser.parse_args()
    if args.forge:
        index: SyntheticIndex | ForgeIndex = ForgeIndex(args.formulas, 5, args.forge)
        names = [f"{forge.ORG}/f{i}-formula" for i in range(args.formulas) if forge._level(i, args.formulas) == 0]
    else:
        index = SyntheticIndex(args.formulas, args.tags)
        names = [index.name(i) for i in range(args.formulas)]
    project = parse_manifest("dependencies:\n" + "".join(f"  - {name}\n" for name in names))
    times, pins = [], 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        pins = len(resolve(project, index, lambda name: name, fast_path=not args.no_fast_path, max_rounds=100_000).pins)
        times.append(time.perf_counter() - started)
    print(f"resolved {pins} formulas x {index.tags} tags: median {statistics.median(times):.3f}s over {args.repeat} runs")


if __name__ == "__main__":
    main()
