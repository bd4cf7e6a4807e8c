"""Strict readers for the files a user writes: manifests (YAML) and contracts (JSON).

Each reader turns a file into plain data or raises one :class:`InputError` naming the file and
the line. Stricter than ``yaml.safe_load`` / ``json.loads`` where their leniency would change
what a file means without a word:

- a key given twice: both parsers keep the last value silently, which can drop a guarantee;
- YAML aliases: a few lines can expand to gigabytes (an "alias bomb"), so a file may use at
  most :data:`MAX_ALIASES` of them;
- bytes that are not UTF-8, and files over :data:`MAX_BYTES`: rejected before parsing;
- JSON's ``NaN``/``Infinity``: not JSON (RFC 8259), and no Snowflake literal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from snowmesh.errors import InputError

MAX_BYTES = 1_000_000  # a manifest or contract is a few KB; a megabyte is a mistake
MAX_ALIASES = 20


def read_text(path: Path, display: str | Path | None = None) -> str:
    """The file as text, or InputError: unreadable, too large, or not UTF-8 (naming the line)."""
    name = display or path
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{name}: (whole file): {size:,} bytes is over the {MAX_BYTES:,}-byte limit for this file")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and bounds aliases (both with the line)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} YAML aliases (*name); write the values out", mark
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue  # "<<: *base" merges may be overridden by design
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, name: str | Path) -> Any:
    """YAML text -> data, or InputError ``<name>: line N: <problem>``."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: it knows the offset only
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(f"{name}: line {line}: not valid YAML: character {exc.character!r} is not allowed") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{name}: {where}: not valid YAML: {problem}") from None


def read_yaml(path: Path, display: str | Path | None = None) -> Any:
    return parse_yaml(read_text(path, display), display or path)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _first_duplicate_line(text: str) -> int:
    """The line of the first key repeated within one object (json reports no position).

    Runs only on the error path: a scan that tracks strings and one key set per open object."""
    stack: list[set[str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "{":
            stack.append(set())
        elif ch == "}" and stack:
            stack.pop()
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if stack and k < n and text[k] == ":":
                key = text[i + 1 : j]
                if key in stack[-1]:
                    return text.count("\n", 0, i) + 1
                stack[-1].add(key)
            i = j
        i += 1
    return 1


def parse_json(text: str, name: str | Path) -> Any:
    """JSON text -> data, or InputError ``<name>: line N: <problem>``."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_not_json)
    except _DuplicateKey as exc:
        raise InputError(f"{name}: line {_first_duplicate_line(text)}: key {exc.key!r} is given twice") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: line {exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{name}: not valid JSON: {exc}") from None


def read_json(path: Path, display: str | Path | None = None) -> Any:
    return parse_json(read_text(path, display), display or path)


def read_json_object(path: Path, display: str | Path | None = None) -> dict[str, Any]:
    """A JSON file whose top level must be an object (a contract)."""
    doc = read_json(path, display)
    if not isinstance(doc, dict):
        raise InputError(f"{display or path}: (top level): must be a JSON object, found {type(doc).__name__}")
    return doc
