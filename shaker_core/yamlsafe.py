"""Load untrusted YAML (metadata.yml from any git host): bounded, alias-free, errors naming the file.

libyaml's C parser composes documents when PyYAML has it (ten times faster: a
resolution reads hundreds of these files). Before it runs, salt-shaker decides
depth and aliases itself, so its answer never depends on which PyYAML or
libyaml is installed: libyaml 0.2.5 as bundled with PyYAML 6.0.4 refuses
nesting past 1,000 levels in its scanner, older builds overflow the C stack,
and the pure-Python parser has no limit at all. A cheap upper bound on the
depth clears ordinary files; any other file is walked event by event with the
pure-Python parser, which scans lazily and has no limit of its own, so the
walk stops at the first level past ``MAX_DEPTH`` or the first alias.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ManifestError, printable

DEFAULT_MAX_BYTES = 512 * 1024
MAX_DEPTH = 100  # far below every parser's own limit (libyaml: 1,000) and the C stack
_FLOW_OPENERS = "[{"
_BLOCK_INDICATORS = re.compile(r"(?:(?:^|\s)[-?]|:)(?=\s|$)")  # "- ", "? ", ": " each open at most one block level
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks, no more (str.splitlines knows more)
LOADERS: dict[str, Any] = {"python": yaml.SafeLoader}
if hasattr(yaml, "CSafeLoader"):
    LOADERS["c"] = yaml.CSafeLoader


class RawFloat(float):
    """A YAML float that remembers how it was written (``1.10``), for error messages."""

    raw = ""


class DuplicateKey(Exception):
    """A mapping names one key twice (``dependencies:`` twice after a bad merge)."""

    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _raw_float_loader(base: Any) -> Any:
    """A subclass of ``base`` whose floats keep their text and whose mappings refuse a key given twice."""

    def construct_raw_float(self: Any, node: Any) -> float:
        value = RawFloat(self.construct_yaml_float(node))
        value.raw = node.value
        return value

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise DuplicateKey(key_node.value, seen[key], line)
                seen[key] = line
        return base.construct_mapping(self, node, deep=deep)

    loader: Any = type(f"RawFloat{base.__name__}", (base,), {"construct_mapping": construct_mapping})
    loader.add_constructor("tag:yaml.org,2002:float", construct_raw_float)
    return loader


# What a composer raises on bad text: PyYAML's own errors, and, from some releases, bare
# ValueError or OverflowError for a date that does not exist or an escape past U+10FFFF.
_UNREADABLE = (yaml.YAMLError, RecursionError, ValueError, OverflowError)
COMPOSERS: dict[str, Any] = {kind: _raw_float_loader(base) for kind, base in LOADERS.items()}
composer_kind = "c" if "c" in COMPOSERS else "python"  # tests switch it to run every check under both


def load_yaml(data: str | bytes, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Safe-load YAML text with size, encoding and alias checks; errors name the file."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data  # a lone surrogate is invalid UTF-8 below
    if len(raw) > max_bytes:
        raise ManifestError(f"{path} is {len(raw)} bytes, over the limit of {max_bytes}; shorten it or raise the 'max_manifest_bytes' setting.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8.") from None
    try:
        _refuse_aliases_and_depth(text, path)
        return _safe_load(text, composer_kind)
    except DuplicateKey as exc:
        raise ManifestError(f"{path}: the key '{printable(exc.key)}' is given twice (lines {exc.first} and {exc.second}); keep one of them.") from None
    except _UNREADABLE:
        pass
    try:  # word the error as the pure-Python parser does: the same in every PyYAML, with or without libyaml
        _safe_load(text, "python")
    except _UNREADABLE as exc:
        raise _syntax_error(exc, path) from None
    raise ManifestError(f"{path} is not valid YAML (libyaml refuses it); fix the syntax.")


def _syntax_error(exc: BaseException, path: str) -> ManifestError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return ManifestError(f"{path}:{where} is not valid YAML ({exc.problem or exc.context}); fix the syntax.")
    if isinstance(exc, yaml.reader.ReaderError):  # its reason is worded differently across PyYAML releases
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return ManifestError(f"{path} is not valid YAML (character U+{code:04X} at offset {exc.position} is not allowed in YAML); remove it.")
    if isinstance(exc, RecursionError):
        return ManifestError(f"{path} is nested too deeply; flatten it.")
    if isinstance(exc, (ValueError, OverflowError)):
        return ManifestError(f"{path} is not valid YAML (a value cannot be read, such as a date that does not exist or an escape past U+10FFFF); fix it.")
    return ManifestError(f"{path} is not valid YAML ({exc}); fix the syntax.")


def _safe_load(text: str, kind: str) -> Any:
    """What ``yaml.safe_load`` does, with the safe loader whose floats keep their text."""
    loader = COMPOSERS[kind](text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _refuse_aliases_and_depth(text: str, path: str) -> None:
    if "*" not in text and depth_bound(text) <= MAX_DEPTH:
        return
    depth = 0
    for event in yaml.parse(text, Loader=LOADERS["python"]):  # lazy, unlimited: this walk decides, not the parser's own limit
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise ManifestError(f"{path}: line {line} uses a YAML alias (*{event.anchor}); write the value out instead.")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ManifestError(f"{path} is nested too deeply; flatten it.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def depth_bound(text: str) -> int:
    """An upper bound on the nesting depth of ``text``, from its characters alone.

    Flow collections nest at most once per ``[`` or ``{``. Block collections
    that hold a line are indented no deeper than it, and at most two of them
    (a mapping and a sequence that is one of its values) start at one column;
    on the line itself each ``- ``, ``? `` or ``: `` opens at most one more.
    Block collections never nest inside flow ones, so the two bounds add up.
    """
    flow = sum(text.count(char) for char in _FLOW_OPENERS)
    block = 0
    for line in _LINE_BREAKS.split(text):
        stripped = line.lstrip(" ")
        if stripped:
            indent = len(line) - len(stripped)
            block = max(block, 2 * (indent + 1) + len(_BLOCK_INDICATORS.findall(stripped)))
    return flow + block
