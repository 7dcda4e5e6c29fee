"""The Jinja sandbox every mapping expression and export template runs in, bounded.

Vocabulary: the *sandbox* refuses what a mapping may not reach (anything starting with `_`,
`str.format`, `%` formatting) and looks data up the forgiving way HR data needs (keys
case-insensitively, an attribute of null is null). *Bounding* rewrites each template's tree
before it is compiled, so every loop iteration, concatenation and repeated literal is a
*step* of the evaluation's budget (budget.py), and the sandbox checks before each call,
filter and operator that its result cannot outgrow the budget's size cap. Nothing is folded
at compile time (`optimized=False`, and a finalize that needs the context), so no work escapes
the budget by happening while a template is compiled.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any

from jinja2 import TemplateSyntaxError, nodes, pass_context
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from scmapper.mapping import budget, plain, sizes
from scmapper.mapping.absence import Absent
from scmapper.mapping.sizes import checked, weigh


class Literal(str):
    """Template text repeated by a loop or macro: output as written, counted like any value."""

    __slots__ = ()


Key = tuple[str, str, str]  # (environment tag, "template" or "expression", source)


class CompiledCodes:
    """The code objects of compiled templates and expressions, by what compiled them. The
    mapping cache keeps those of a mapping (cache.py), so a steady-state event compiles none;
    `recording` says which a mapping used and whether any had to be compiled."""

    def __init__(self) -> None:
        self._known: dict[Key, CodeType] = {}
        self.used: dict[Key, CodeType] = {}
        self.missed = False

    def get(self, key: Key) -> CodeType | None:
        code = self._known.get(key)
        if code is not None:
            self.used[key] = code
        return code

    def put(self, key: Key, code: CodeType) -> CodeType:
        self._known[key] = self.used[key] = code
        self.missed = True
        return code

    @contextmanager
    def recording(self, known: dict[Key, CodeType]) -> Iterator[CompiledCodes]:
        self._known.update(known)
        self.used, self.missed = {}, False
        yield self


CODES = CompiledCodes()


class MappingSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with data-first look-ups, loud refusals and bounds; `tag`
    names the environment in the keys of compiled code."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    absent_fields = False  # the mapping environment reads a missing key as absent; CSV templates do not

    def __init__(self, tag: str, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.tag = tag

    def compile(
        self, source: Any, name: Any = None, filename: Any = None, raw: Any = False, defer_init: Any = False
    ) -> Any:
        if not isinstance(source, str) or raw or defer_init or name or filename:
            return super().compile(source, name, filename, raw, defer_init)
        key = (self.tag, "template", source)
        return CODES.get(key) or CODES.put(key, super().compile(source))

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> TemplateExpression:
        """Jinja's compile_expression, its code kept in CODES."""
        key = (self.tag, "expression", source)
        code = CODES.get(key)
        if code is None:
            parser = Parser(self, source, state="variable")
            try:
                expr = parser.parse_expression()
                if not parser.stream.eos:
                    raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
                expr.set_environment(self)
            except TemplateSyntaxError:
                self.handle_exception(source=source)
            body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
            code = CODES.put(key, super().compile(nodes.Template(body, lineno=1)))
        template = self.template_class.from_code(self, code, self.make_globals(None), None)
        return TemplateExpression(template, undefined_to_none)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or (isinstance(obj, str | bytes) and attr in ("format", "format_map")):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is refused outright (is_safe_attribute), never wrapped

    def _missing(self, obj: Any, key: Any) -> Any:
        """A key a record does not have: absent in a mapping, undefined in an export template."""
        return Absent(obj, key) if self.absent_fields else self.undefined(obj=obj, name=key)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to {attribute!r} is not allowed in a mapping")

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute[:1] == "_":
            return self.unsafe_undefined(obj, attribute)
        found = plain.field(obj, attribute, self._missing)  # record data, read as compiled code reads it
        return found if found is not plain.NOT_DATA else super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        found = plain.element(obj, argument, self._missing, past_end=self.absent_fields)
        if found is not plain.NOT_DATA:
            return found
        if type(argument) is slice:  # a copy, made in C: counted like any value made
            budget.step()
            return checked(super().getitem(obj, argument))
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return plain.binop(operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's signature
        budget.step()
        if getattr(__obj, "__name__", None) == "join" and isinstance(getattr(__obj, "__self__", None), str | bytes):
            args = (sizes.joinable(__obj.__self__, args[0]),) if len(args) == 1 else args
        else:
            sizes.check_method(__obj, args, kwargs)
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, list | tuple | dict | str | bytes):
                weigh(owner)  # its method walks it (count, index, ...)
        return checked(super().call(__context, __obj, *args, **kwargs))

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        # A copy: callers may still read the tree they passed (the static checks do).
        return super()._generate(_Bounding().visit(copy.deepcopy(source)), name, filename, defer_init)


# --- size checks ---------------------------------------------------------------------------


# --- what the bounding rewrite puts in every tree ---------------------------------------------


@pass_context
def _loop(context: Any, items: Any) -> Iterator[Any]:
    """A loop's items, each a step of the budget."""
    iterator: Iterable[Any] = items if not isinstance(items, Mapping) else list(items)
    for item in iterator:
        budget.step()
        yield item


@pass_context
def _concat(context: Any, parts: list[Any]) -> str:
    """The `~` operator: its parts joined, once their size is known to fit."""
    return plain.concat(parts)


@pass_context
def _repeated(context: Any, text: str) -> Literal:
    return Literal(text)


@pass_context
def _list(context: Any, items: Any) -> list[Any] | tuple[Any, ...]:
    """A plain list as it is; anything else is for the caller's slower path to make out."""
    if type(items) is list or type(items) is tuple:
        return items
    raise TypeError("not a plain list")


@pass_context
def _cell(context: Any, text: str) -> str:
    """A role cell of the one-pass roles template (rows.RolesTemplate): a separator inside it
    would split rows wrongly, so the pass fails and the roles are rendered item by item."""
    if "\x1e" in text or "\x1f" in text:
        raise ValueError("a separator in a cell")
    return text


@pass_context
def _weighed(context: Any, value: Any) -> Any:
    """An operand of a comparison, which walks it in C: charged by its size."""
    return weigh(value)


@pass_context
def _made(context: Any, value: Any) -> Any:
    """A list, tuple or dict the template writes out: it may hold a big value many times."""
    return checked(value)


BOUNDING_FILTERS = {
    "scm_loop": _loop,
    "scm_concat": _concat,
    "scm_literal": _repeated,
    "scm_list": _list,
    "scm_weigh": _weighed,
    "scm_cell": _cell,
    "scm_made": _made,
}


class _Bounding(NodeTransformer):
    """Rewrites a template's tree: loops iterate through `scm_loop`, `~` joins through
    `scm_concat`, and literal text inside loops and macros passes `scm_literal`, so each
    is seen by the budget at run time."""

    def __init__(self) -> None:
        self.repeating = 0
        self.recursive: list[bool] = []  # of the loops the visit is inside, innermost last

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node.iter = _filter(self.visit(node.iter), "scm_loop")
        if node.test is not None:
            node.test = self.visit(node.test)
        node.target = self.visit(node.target)
        self.repeating += 1
        self.recursive.append(node.recursive)
        node.body = [self.visit(child) for child in node.body]
        self.recursive.pop()
        node.else_ = [self.visit(child) for child in node.else_]
        self.repeating -= 1
        return node

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        # `loop(items)` in a recursive loop iterates again: its items pass scm_loop too
        if self.recursive and self.recursive[-1] and isinstance(node.node, nodes.Name) and node.node.name == "loop":
            node.args = [_filter(arg, "scm_loop") for arg in node.args]
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        return self._repeating(node)

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        return self._repeating(node)

    def _repeating(self, node: nodes.Node) -> nodes.Node:
        self.repeating += 1
        node = self.generic_visit(node)
        self.repeating -= 1
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        parts = nodes.List([self.visit(child) for child in node.nodes], lineno=node.lineno)
        return _filter(parts, "scm_concat")

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        node.expr = _weighed_operand(self.visit(node.expr))
        for operand in node.ops:
            operand.expr = _weighed_operand(self.visit(operand.expr))
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, "scm_made")

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, "scm_made")

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return node if node.ctx != "load" else _filter(node, "scm_made")

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        if not self.repeating:
            return node
        return _filter(nodes.Const(node.data, lineno=node.lineno), "scm_literal")


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _weighed_operand(node: nodes.Expr) -> nodes.Expr:
    return node if isinstance(node, nodes.Const) else _filter(node, "scm_weigh")
