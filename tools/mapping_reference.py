"""Writes docs/mapping-reference.md from schemas/mapping.schema.json.

python tools/mapping_reference.py          # rewrite the reference
python tools/mapping_reference.py --check  # exit 1 when it is stale (CI runs this through pytest)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "mapping.schema.json"
TARGET = ROOT / "docs" / "mapping-reference.md"


def render() -> str:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    lines = [
        "# Mapping file reference",
        "",
        "Generated from `schemas/mapping.schema.json` by `tools/mapping_reference.py`; edit the schema, not",
        "this file. [mappings.md](mappings.md) explains the ideas; this page lists every key.",
        "",
    ]
    seen: dict[str, str] = {}
    for name, spec in schema["properties"].items():
        _key(schema, name, spec, lines, 2, seen)
    return "\n".join(lines).rstrip() + "\n"


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in spec:
        spec = {**schema["$defs"][spec["$ref"].split("/")[-1]], **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec


def _key(
    schema: dict[str, Any], path: str, spec: dict[str, Any], lines: list[str], depth: int, seen: dict[str, str]
) -> None:
    ref = spec.get("$ref", "").split("/")[-1]
    if ref in seen and ref not in ("columnName", "template", "threshold") and "properties" not in spec:
        lines += [f"{'#' * min(depth, 4)} `{path}`", "", f"The same as `{seen[ref]}`.", ""]
        return
    if ref:
        seen.setdefault(ref, path)
    spec = _resolve(schema, spec)
    if spec.get("not") == {}:
        lines += [f"{'#' * min(depth, 4)} `{path}` (refused)", "", spec.get("errorMessage", "Not allowed."), ""]
        return
    lines += [f"{'#' * min(depth, 4)} `{path}`", ""]
    facts = [f"type: {_type(schema, spec)}"]
    if "default" in spec:
        facts.append(f"default: `{json.dumps(spec['default'], ensure_ascii=False)}`")
    if "enum" in spec:
        facts.append("one of: " + ", ".join(f"`{v}`" for v in spec["enum"]))
    if "pattern" in spec:
        facts.append(f"pattern: `{spec['pattern']}`")
    lines += [" · ".join(facts), ""]
    if spec.get("description"):
        lines += [spec["description"], ""]
    for example in spec.get("examples", []):
        text = yaml.safe_dump({path.split(".")[-1].strip("<>"): example}, allow_unicode=True, sort_keys=False)
        lines += ["```yaml", text.rstrip(), "```", ""]
    extra = spec.get("additionalProperties")
    named = spec.get("properties", {})
    if isinstance(extra, dict) and named and all(c.get("$ref") == extra.get("$ref") for c in named.values()):
        # Known names of one kind (Spend Cloud's columns): listed here, described once as <name>.
        lines += ["Known names:", ""] + [f"- `{name}`: {child.get('description', '')}" for name, child in named.items()]
        lines += [""]
        named = {}
    for child, child_spec in named.items():
        _key(schema, f"{path}.{child}", child_spec, lines, depth + 1, seen)
    if isinstance(extra, dict) and ("$ref" in extra or extra.get("properties")):
        _key(schema, f"{path}.<name>", extra, lines, depth + 1, seen)
    then = spec.get("then")
    if isinstance(then, dict):
        for child, child_spec in _resolve(schema, then).get("properties", {}).items():
            _key(schema, f"{path}.{child}", child_spec, lines, depth + 1, seen)


def _type(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type")
    if kind is None and "anyOf" in spec:
        return " or ".join(_type(schema, _resolve(schema, s)) for s in spec["anyOf"])
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"list of {_type(schema, _resolve(schema, spec['items']))}"
    return kind or "any"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text("utf-8") != text:
            print("docs/mapping-reference.md is stale: run python tools/mapping_reference.py")
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
