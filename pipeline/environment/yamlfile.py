"""YAML as env files are read: safe, one document, no duplicate keys, bounded nesting.

PyYAML's ``safe_load`` lets a later key silently win over an earlier one (``port: 80``
then ``port: 8080``) and recurses once per nesting level (a file nested 500 deep is a
``RecursionError``). ``parse`` refuses both with the key path or the line, as a
``yaml.MarkedYAMLError`` the loader turns into one ``ConfigError`` line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_DEPTH", "parse"]

MAX_DEPTH = 32
MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """A ``SafeLoader`` that stops composing past ``MAX_DEPTH`` nested collections."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def _duplicates(node: Node, path: list[str], visited: set[int]) -> None:
    if id(node) in visited:  # an alias: checked where its anchor is (and no exponential walk)
        return
    visited.add(id(node))
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.tag == MERGE:
                continue
            name = str(key.value) if isinstance(key, ScalarNode) else "?"
            if name in seen:
                where = ".".join([*path, name])
                raise ConstructorError(None, None, f"{where}: duplicate key", key.start_mark)
            seen.add(name)
            _duplicates(value, [*path, name], visited)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _duplicates(item, [*path, str(index)], visited)


def parse(text: str) -> Any:
    """The one document of ``text``; raises ``yaml.YAMLError`` (with a mark where known)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _duplicates(node, [], set())
        return loader.construct_document(node)
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
