"""Safe YAML loading that remembers where every value came from.

Vocabulary: a *document* is the plain Python data (dicts, lists, scalars) built from
a YAML file; a *position* is the 1-based (line, col) of a node; a *path* is the tuple
of keys and indexes that leads from the document root to a value, as JSON Schema
reports it. Keys have positions of their own so "unknown key" can point at the key.
"""

from __future__ import annotations

from typing import Any

import yaml

from scmapper.errors import MappingError, Problem
from scmapper.mapping import yamlerrors
from scmapper.mapping.document import Document, Path_

# A mapping file is a few hundred nodes; these bound what aliases can expand into
# ("billion laughs") and how deep nesting may go, long before memory or the stack suffer.
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_BYTES = 2 * 1024 * 1024

_PLAIN_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


def load_bytes(raw: bytes, name: str) -> Document:
    """Load one YAML file's bytes, raising MappingError with a located message."""
    if len(raw) > MAX_BYTES:
        limit = MAX_BYTES // (1024 * 1024)
        raise MappingError([Problem(name, 1, 1, f"file is larger than {limit} MiB")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError([Problem(name, 1, 1, f"file is not valid UTF-8 (byte {exc.start})")]) from None
    return load_text(text, name)


def load_text(text: str, name: str) -> Document:
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters right here
    except yaml.reader.ReaderError as exc:
        raise MappingError([Problem(name, *yamlerrors.unreadable(text, exc))]) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise MappingError([Problem(name, *yamlerrors.explain(text, exc))]) from None
    except yaml.YAMLError as exc:
        raise MappingError([Problem(name, 1, 1, f"YAML error: {exc}")]) from None
    except RecursionError:  # the parser's own recursion, before our depth limit can look
        raise MappingError([Problem(name, 1, 1, f"nesting deeper than {MAX_DEPTH} levels")]) from None
    finally:
        loader.dispose()
    doc = Document(name, None)
    if node is None:
        raise MappingError([Problem(name, 1, 1, "file is empty")])
    builder = _Builder(doc, loader, text.splitlines())
    doc.data = builder.build(node, (), 0)
    if builder.problems:
        raise MappingError(builder.problems)
    return doc


class _Builder:
    """Turns composed nodes into plain data, refusing what a mapping file has no use for."""

    def __init__(self, doc: Document, loader: yaml.SafeLoader, lines: list[str]) -> None:
        self.doc = doc
        self.loader = loader
        self.lines = lines
        self.nodes = 0
        self.problems: list[Problem] = []

    def _fail(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.doc.file, mark.line + 1, mark.column + 1, message))

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._fail(node, f"more than {MAX_NODES} values: aliases expand too far")
            raise MappingError(self.problems)
        if depth > MAX_DEPTH:
            self._fail(node, f"nesting deeper than {MAX_DEPTH} levels")
            raise MappingError(self.problems)
        self.doc.positions.setdefault(path, self._position(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if node.tag not in _PLAIN_TAGS:
            self._fail(node, f"tag {node.tag!r} is not allowed in a mapping file")
            return None
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)  # the composer makes only these three kinds
        return self._mapping(node, path, depth)

    def _position(self, node: yaml.Node) -> tuple[int, int]:
        """Where a value starts: a block scalar's (`|`, `>`) at its first line of text, not at
        the indicator, so a template's line N is this line plus N - 1."""
        mark = node.start_mark
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            following = self.lines[mark.line + 1 :]
            text = next((line for line in following if line.strip()), None)
            if text is not None:
                return mark.line + 2, len(text) - len(text.lstrip(" ")) + 1
        return mark.line + 1, mark.column + 1

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self._fail(node, f"cannot read value: {exc.problem}")
            return None
        except ValueError:  # a number of thousands of digits: Python refuses to convert it
            self._fail(node, f"number of {len(node.value)} characters is too long; quote it if it is text")
            return None
        # Dates and times stay text: expressions parse them explicitly with to_date.
        if not isinstance(value, str | int | float | bool | type(None)):
            return node.value
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail(key_node, "merge keys ('<<') are not supported; write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                braces = node.flow_style and isinstance(key_node, yaml.MappingNode) and key_node.flow_style
                self._fail(
                    node if braces else key_node,
                    yamlerrors.BRACES if braces else "keys must be plain scalars",
                )
                continue
            # Keys are taken as written: a lookup table's `0: B` maps the text "0".
            key = key_node.value
            if key in result:
                self._fail(key_node, f"duplicate key {key!r}")
                continue
            self.doc.key_positions[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result
