"""Load untrusted YAML (metadata.yml from any git host): bounded, alias-free, errors naming the file.

libyaml's C parser is used when PyYAML has it (ten times faster: a resolution
reads hundreds of these files); aliases are refused from the event stream
first, so an alias bomb never expands.
"""
from __future__ import annotations

from typing import Any

import yaml

from .errors import ManifestError

DEFAULT_MAX_BYTES = 512 * 1024
MAX_DEPTH = 100  # libyaml composes recursively in C: a deeper document can overflow the stack
_NESTING_CHARS = "[{-?:"  # each level of nesting opens with one of these
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RawFloat(float):
    """A YAML float that remembers how it was written (``1.10``), for error messages."""

    raw = ""


class _Loader(_BaseLoader):
    """Safe loader whose floats keep their text."""

    def construct_raw_float(self, node: Any) -> float:
        value = RawFloat(self.construct_yaml_float(node))
        value.raw = node.value
        return value


_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_raw_float)


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
        return _safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(f"{path}:{where} is not valid YAML ({exc.problem or exc.context}); fix the syntax.") from None
    except yaml.reader.ReaderError as exc:  # its str() spans two lines
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ManifestError(f"{path} is not valid YAML (character U+{code:04X} at offset {exc.position}: {exc.reason}); remove it.") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path} is not valid YAML ({exc}); fix the syntax.") from None
    except RecursionError:
        raise ManifestError(f"{path} is nested too deeply; flatten it.") from None


def _safe_load(text: str) -> Any:
    """What ``yaml.safe_load`` does, with the safe loader whose floats keep their text."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _refuse_aliases_and_depth(text: str, path: str) -> None:
    if "*" not in text and sum(text.count(char) for char in _NESTING_CHARS) <= MAX_DEPTH:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_BaseLoader):  # libyaml parses events without recursion
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise ManifestError(f"{path}: line {line} uses a YAML alias (*{event.anchor}); write the value out instead.")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ManifestError(f"{path} is nested too deeply; flatten it.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
