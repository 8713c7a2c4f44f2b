"""Generate a deterministic forge of formula repositories for benchmarks.

    python bench/forge.py DIR [--formulas N] [--tags K] [--kind plain|backtrack]

Each formula ``bench/f<i>-formula`` is a bare repository under
``DIR/bench/f<i>-formula.git`` with K annotated tags ``v1.0.0`` ... and a
small formula: ``f<i>/init.sls``, ``f<i>/map.jinja``, ``_modules/f<i>_util.py``
and a ``metadata.yml``. Formulas sit on 4 levels; each depends on up to 3
formulas of the next level, with ranges that the newest tags satisfy. One
formula (``bench/big-formula``) has many files and a long history. Written with
``git fast-import``, so 1,000 repositories take seconds. Same arguments, same
commit ids.

``--kind backtrack`` makes the graphs users have instead: about one formula in
seven is *held* below its newest tag by every formula that needs it (a range
like ``>=v1.1.0,<=v1.3.0``, or ``==v1.2.0`` on the two deepest levels), and
about one in eleven is *tempting*: its newest tag also needs a held formula at
that formula's newest tag, which the holders forbid, so the resolver must find
the conflict and go back to the tempting formula's previous tag.
"""
from __future__ import annotations

import argparse
import functools
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ORG = "bench"
LEVELS = 4
BIG_FILES = 400
BIG_HISTORY = 200


KINDS = ("plain", "backtrack")


@dataclass(frozen=True)
class Forge:
    """A generated forge: where it is and what it holds."""

    root: Path
    names: tuple[str, ...]
    tags: int
    kind: str = "plain"
    base_url: str | None = None  # where the forge is served (smart HTTP), when not read over file://

    @property
    def template(self) -> str:
        return f"{self.base_url or f'file://{self.root}/'}{{org}}/{{name}}.git"

    def url(self, name: str) -> str:
        """Where ``org/name`` is fetched from."""
        return self.template.format(org=name.split("/")[0], name=name.split("/")[1])

    def roots(self) -> list[str]:
        """The formulas nothing else depends on: what a project asks for."""
        small = [name for name in self.names if name != f"{ORG}/big-formula"]
        return [name for index, name in enumerate(small) if _level(index, len(small)) == 0]


def _level(index: int, count: int) -> int:
    return min(LEVELS - 1, index * LEVELS // max(count, 1))


@functools.lru_cache(maxsize=8)
def _levels(count: int) -> tuple[range, ...]:
    """The formulas of each level: consecutive indexes, so a range (looked up once per forge size)."""
    starts = [next((j for j in range(count) if _level(j, count) >= level), count) for level in range(LEVELS)]
    return tuple(range(start, end) for start, end in zip(starts, starts[1:] + [count], strict=True))


def dependencies(index: int, count: int, kind: str = "plain", newest: bool = False, tags: int = 5) -> list[str]:
    """Up to 3 formulas of the next level: with a range the newest tags satisfy, or (backtrack) holding some back."""
    level = _level(index, count)
    if level == LEVELS - 1:
        return []
    next_level = _levels(count)[level + 1]
    picks = sorted({next_level[(index * 7 + k * 13) % len(next_level)] for k in range(3)})
    kinds = [">=v1.0.0", "<v99.0.0", ">=v1.1.0,<v50.0.0"]
    if kind == "plain":
        return [f"{ORG}/f{j}-formula{kinds[(index + j) % 3]}" for j in picks]
    found = [f"{ORG}/f{j}-formula{_holding(j, count) if held(j, count) else kinds[(index + j) % 3]}" for j in picks]
    if newest and tempting(index, count):
        tempted = [j for j in next_level if held(j, count) and j not in picks]
        if tempted:
            found.append(f"{ORG}/f{tempted[index % len(tempted)]}-formula>=v1.{tags - 1}.0")  # what every holder forbids
    return found


def held(index: int, count: int) -> bool:
    """Whether every formula that needs this one holds it below its newest tag."""
    return _level(index, count) > 0 and index % 7 == 3


def tempting(index: int, count: int) -> bool:
    """Whether this formula's newest tag needs a held formula at its newest tag (so the resolver must go back)."""
    return _level(index, count) < LEVELS - 1 and index % 11 == 5 and not held(index, count)


def _holding(index: int, count: int) -> str:
    return "==v1.2.0" if _level(index, count) >= 2 and index % 2 else ">=v1.1.0,<=v1.3.0"


def _blob(data: str) -> str:
    return f"data {len(data.encode())}\n{data}\n"


def _stream_small(index: int, count: int, tags: int, kind: str = "plain") -> str:
    name = f"f{index}"
    parts = []
    for t in range(tags):
        deps = dependencies(index, count, kind, newest=t == tags - 1, tags=tags)
        version = f"v1.{t}.0"
        metadata = f"formula: {ORG}/{name}-formula\ndependencies:\n" + "".join(f"  - {d}\n" for d in deps) if deps else f"formula: {ORG}/{name}-formula\n"
        files = {
            "metadata.yml": metadata,
            f"{name}/init.sls": f"{name}_installed:\n  test.succeed_without_changes:\n    - name: {name} {version}\n",
            f"{name}/map.jinja": f'{{% set {name} = {{"version": "{version}"}} %}}\n',
            f"_modules/{name}_util.py": f'def version():\n    return "{version}"\n',
            "README.rst": f"{name} formula, release {version}\n",
            "meta/main.yml": "galaxy_info: {author: bench}\n",  # lets ansible-galaxy install it as a role too
        }
        parts.append(_commit(t + 1, t, files, f"Release {version}"))
        parts.append(f"tag {version}\nfrom :{t + 1}\ntagger Bench <bench@example.invalid> {1700000000 + t} +0000\n{_blob(f'{name} {version}')}")
    return "".join(parts)


def _commit(mark: int, parent_mark: int, files: dict[str, str], message: str) -> str:
    lines = [f"commit refs/heads/main\nmark :{mark}\ncommitter Bench <bench@example.invalid> {1700000000 + mark} +0000\n{_blob(message)}"]
    if parent_mark:
        lines.append(f"from :{parent_mark}\n")
    for path, content in files.items():
        lines.append(f"M 100644 inline {path}\n{_blob(content)}")
    return "".join(lines)


def _stream_big(tags: int) -> str:
    parts = []
    for step in range(1, BIG_HISTORY + 1):
        files = {f"big/file{n}.sls": f"# step {step}\nstate_{n}:\n  test.nop: []\n" for n in range(step % 20, BIG_FILES, 20)}
        if step == 1:
            files.update({f"big/file{n}.sls": f"state_{n}:\n  test.nop: []\n" for n in range(BIG_FILES)})
            files["big/init.sls"] = "include: []\n"
            files["metadata.yml"] = f"formula: {ORG}/big-formula\n"
            files["meta/main.yml"] = "galaxy_info: {author: bench}\n"
        parts.append(_commit(step, step - 1, files, f"step {step}"))
    for t in range(tags):
        mark = BIG_HISTORY - (tags - 1 - t) * 10
        parts.append(f"tag v1.{t}.0\nfrom :{mark}\ntagger Bench <bench@example.invalid> {1700000000 + t} +0000\n{_blob(f'big v1.{t}.0')}")
    return "".join(parts)


def _write_repo(path: Path, stream: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream.encode(), check=True)


def generate(root: Path, formulas: int, tags: int = 5, jobs: int = 4, kind: str = "plain") -> Forge:
    """Write the forge under ``root`` (reused when it already holds the same forge)."""
    root = root.resolve()
    stamp = root / f".forge-{formulas}-{tags}" if kind == "plain" else root / f".forge-{formulas}-{tags}-{kind}"
    names = tuple(f"{ORG}/f{i}-formula" for i in range(formulas)) + (f"{ORG}/big-formula",)
    if stamp.exists():
        return Forge(root, names, tags, kind)
    jobs_list = [(root / ORG / f"f{i}-formula.git", _stream_small(i, formulas, tags, kind)) for i in range(formulas)]
    jobs_list.append((root / ORG / "big-formula.git", _stream_big(tags)))
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda job: _write_repo(*job), jobs_list))
    stamp.write_text("complete\n")
    return Forge(root, names, tags, kind)


def project_metadata(forge: Forge) -> str:
    """A project metadata.yml that asks for every level-0 formula and the big one."""
    lines = ["dependencies:"] + [f"  - {name}" for name in forge.roots()] + [f"  - {ORG}/big-formula"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--formulas", type=int, default=100)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--kind", choices=KINDS, default="plain", help="plain: nothing holds a formula back; backtrack: see above")
    args = parser.parse_args()
    forge = generate(args.dir, args.formulas, args.tags, kind=args.kind)
    print(f"{len(forge.names)} repositories in {forge.root}; source_template: {forge.template}")


if __name__ == "__main__":
    main()
