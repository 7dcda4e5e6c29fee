"""A mapping compiled to plain Python: every column, var and roles expression one function.

Vocabulary: a *piece* is one template or expression of a mapping (a column's value, a lookup
column's default, a var, `source.active`, the roles' `for_each` and `when`), keyed as in
program.py. The compiler walks each piece's Jinja tree and writes Python that does what Jinja's
code does for it, operation for operation, through plain.py (the sandbox's rules as functions)
and builtins.py (the filters and tests): no Jinja on the event path. A piece that uses what
the compiler does not write (a `for` or `set` block, a slice, a filter not in builtins.py or
named with arguments its rewrite does not take) is *interpreted*: Jinja renders it as before,
and `validate --explain` names it with the reason. Nothing from the mapping becomes code: names
and text are written as Python literals (repr), so the module holds only the compiler's own
code shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.parser import Parser

from scmapper.mapping import builtins, expressions
from scmapper.mapping.model import Mapping
from scmapper.mapping.program import COMPILER, Key, Program, pieces

_COMPARE = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}
_SANDBOXED: dict[type[nodes.Node], str] = {nodes.Add: "+", nodes.Mul: "*", nodes.Mod: "%", nodes.Pow: "**"}
_PLAIN: dict[type[nodes.Node], str] = {nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//"}
_UNARY: dict[type[nodes.Node], str] = {nodes.Not: "not ", nodes.Neg: "-", nodes.Pos: "+"}


class Unsupported(Exception):
    """Something in a piece the compiler does not write: the piece is interpreted."""


@dataclass(frozen=True)
class Compiled:
    source: str  # the module's Python text
    fallbacks: dict[Key, str]  # piece -> why it is interpreted


def compile_mapping(mapping: Mapping) -> Program:
    """The mapping as a Program: its module compiled, and the pieces left to Jinja."""
    compiled = translate(mapping)
    code = compile(compiled.source, "<scmapper compiled mapping>", "exec")
    return Program(code, compiled.fallbacks)


def translate(mapping: Mapping) -> Compiled:
    functions: list[str] = []
    table: list[str] = []
    fallbacks: dict[Key, str] = {}
    bodies: dict[Key, tuple[str, list[str]]] = {}
    for key, kind, source in pieces(mapping):
        writer = _Writer()
        name = f"piece_{len(table)}"
        try:
            body = writer.template(source) if kind == "template" else writer.expression(source)
            function = f"def {name}(c):\n" + "".join(f"    {line}\n" for line in body)
            compile(function, "<scmapper compiled piece>", "exec")  # Python's own limits, piece by piece
        except Unsupported as exc:
            fallbacks[key] = str(exc)
            continue
        except (RecursionError, SyntaxError, MemoryError, ValueError):  # nesting past Python's limits
            fallbacks[key] = "nested deeper than Python compiles"
            continue
        functions.append(function)
        table.append(f"    {key!r}: {name},")
        bodies[key] = (name, body)
    for noun, columns in (("column", mapping.columns), ("role", mapping.roles.columns if mapping.roles else ())):
        parts = [bodies.get((noun, c.name)) for c in columns if c.kind != "fixed"]
        if all(part is not None for part in parts):
            values = [body[0][7:] if len(body) == 1 else f"{name}(c)" for name, body in filter(None, parts)]
            functions.append(f"def row_{noun}(c):\n    return (" + "".join(f"{v}, " for v in values) + ")\n")
            table.append(f"    {('row', noun)!r}: row_{noun},")
    source = "\n\n".join([f"# scmapper compiled mapping, compiler {COMPILER}", *functions])
    return Compiled(source + "\n\nPIECES = {\n" + "\n".join(table) + "\n}\n", fallbacks)


class _Writer:
    """Python for one piece; raises Unsupported for what it does not write."""

    def template(self, source: str) -> list[str]:
        tree = expressions.environment().parse(source)
        body = list(self._statements(tree.body, 0))
        if len(body) == 1 and body[0].startswith("_out(") and body[0].endswith(")"):
            return [f"return {body[0][5:-1]}"]  # one part: no list to join
        return ["_parts = []", "_out = _parts.append", *body, "return ''.join(_parts)"]

    def expression(self, source: str) -> list[str]:
        env = expressions.environment()
        parser = Parser(env, source, state="variable")
        node = parser.parse_expression()
        if not parser.stream.eos:
            raise Unsupported("text after the expression")
        return [f"return {self.expr(node)}"]

    def _statements(self, body: list[nodes.Node], depth: int) -> Iterator[str]:
        pad = "    " * depth
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        yield f"{pad}_out({child.data!r})"
                    else:
                        yield f"{pad}_out(output({self.expr(child)}))"
            elif isinstance(node, nodes.If):
                yield f"{pad}if {self.expr(node.test)}:"
                yield from self._block(node.body, depth + 1)
                for other in node.elif_:
                    yield f"{pad}elif {self.expr(other.test)}:"
                    yield from self._block(other.body, depth + 1)
                if node.else_:
                    yield f"{pad}else:"
                    yield from self._block(node.else_, depth + 1)
            else:
                raise Unsupported(f"a {{% {type(node).__name__.lower()} %}} block")

    def _block(self, body: list[nodes.Node], depth: int) -> Iterator[str]:
        lines = list(self._statements(body, depth))
        yield from lines or ["    " * depth + "pass"]

    def expr(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Const):
            if node.value is None or type(node.value) in (str, int, float, bool):
                return repr(node.value)
            raise Unsupported(f"a constant of type {type(node.value).__name__}")
        if isinstance(node, nodes.Name) and node.ctx == "load":
            return f"c[{node.name!r}]"
        if isinstance(node, nodes.Getattr):
            return f"attribute({self.expr(node.node)}, {node.attr!r})"
        if isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                raise Unsupported("a slice ([a:b])")
            return f"item({self.expr(node.node)}, {self.expr(node.arg)})"
        if isinstance(node, nodes.Filter):
            return self._filter(node)
        if isinstance(node, nodes.Test):
            if node.name not in builtins.TESTS:
                raise Unsupported(f"the test {node.name!r}")
            _fits(builtins.TESTS[node.name], node, f"the test {node.name!r}")
            return f"TESTS[{node.name!r}]({self._arguments(node.node, node)})"
        if isinstance(node, nodes.CondExpr):
            if node.expr2 is None:
                raise Unsupported("an inline if without else")
            return f"({self.expr(node.expr1)} if {self.expr(node.test)} else {self.expr(node.expr2)})"
        if isinstance(node, nodes.And | nodes.Or):
            word = "and" if isinstance(node, nodes.And) else "or"
            return f"({self.expr(node.left)} {word} {self.expr(node.right)})"
        if isinstance(node, nodes.UnaryExpr) and type(node) in _UNARY:
            return f"({_UNARY[type(node)]}{self.expr(node.node)})"
        if isinstance(node, nodes.BinExpr) and type(node) in _SANDBOXED:
            return f"binop({_SANDBOXED[type(node)]!r}, {self.expr(node.left)}, {self.expr(node.right)})"
        if isinstance(node, nodes.BinExpr) and type(node) in _PLAIN:
            return f"({self.expr(node.left)} {_PLAIN[type(node)]} {self.expr(node.right)})"
        if isinstance(node, nodes.Compare):
            parts = [self._weighed(node.expr)]
            for operand in node.ops:
                parts += [_COMPARE[operand.op], self._weighed(operand.expr)]
            return "(" + " ".join(parts) + ")"
        if isinstance(node, nodes.Concat):
            return "concat([" + ", ".join(self.expr(part) for part in node.nodes) + "])"
        if isinstance(node, nodes.List):
            return "made([" + ", ".join(self.expr(part) for part in node.items) + "])"
        if isinstance(node, nodes.Tuple) and node.ctx == "load":
            return "made((" + "".join(f"{self.expr(part)}, " for part in node.items) + "))"
        if isinstance(node, nodes.Dict):
            pairs = ", ".join(f"{self.expr(pair.key)}: {self.expr(pair.value)}" for pair in node.items)
            return "made({" + pairs + "})"
        if isinstance(node, nodes.Call):
            return f"call({self._arguments(node.node, node)})"
        raise Unsupported(f"a {type(node).__name__} expression")

    def _weighed(self, node: nodes.Expr) -> str:
        return self.expr(node) if isinstance(node, nodes.Const) else f"weigh({self.expr(node)})"

    def _filter(self, node: nodes.Filter) -> str:
        if node.node is None:
            raise Unsupported("a filter block")
        if node.name not in builtins.FILTERS:
            raise Unsupported(f"the filter {node.name!r}")
        shaped = f"the filter {node.name!r} with these arguments"
        if node.name not in builtins.OWN_FILTERS:  # a rewrite of Jinja's: only calls it takes as Jinja's does
            _fits(builtins.FILTERS[node.name], node, shaped)
        if node.name == "map" and not any(k.key == "attribute" for k in node.kwargs):
            raise Unsupported(shaped)  # map('filter name', ...): Jinja's
        if node.name in ("select", "reject", "selectattr", "rejectattr"):
            at = 1 if node.name.endswith("attr") else 0
            test = node.args[at] if len(node.args) > at else None
            if len(node.args) < at or (test is not None and not _known_test(test)):
                raise Unsupported(shaped)
        return f"FILTERS[{node.name!r}]({self._arguments(node.node, node)})"

    def _arguments(self, first: nodes.Node, node: nodes.Filter | nodes.Test | nodes.Call) -> str:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Unsupported("*args or **kwargs")
        if any(str(keyword.key)[:1] == "_" for keyword in node.kwargs):
            raise Unsupported("a keyword argument starting with _")  # Jinja drops some of those
        parts = [self.expr(first), *(self.expr(arg) for arg in node.args)]
        if node.kwargs:  # as a dict: a keyword's name is written as a literal, never as code
            parts.append("**{" + ", ".join(f"{k.key!r}: {self.expr(k.value)}" for k in node.kwargs) + "}")
        return ", ".join(parts)


def _fits(function: Any, node: nodes.Filter | nodes.Test, what: str) -> None:
    """Unsupported unless the rewrite takes the call's arguments: a call that fails for want of
    an argument fails in Jinja, with Jinja's message."""
    try:
        inspect.signature(function).bind(None, *node.args, **{str(k.key): None for k in node.kwargs})
    except (TypeError, ValueError):  # arguments it would not take, or a signature Python cannot read
        raise Unsupported(what) from None


def _known_test(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.value, str) and node.value in builtins.TESTS
