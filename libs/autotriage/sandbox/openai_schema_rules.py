"""OpenAI Structured Outputs (``strict: true``) schema rules, plus a small instance validator/builder.

``check_strict_schema`` rejects what the real API rejects, with the real message shapes
(``Invalid schema for response_format 'NAME': In context=('properties', 'x'), ...``).
``validate_instance`` checks a JSON value against the supported subset, and ``build_instance``
produces a value that satisfies a schema (used by the test server's default responder).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MISSING",
    "SchemaLimits",
    "StrictSchemaError",
    "build_instance",
    "check_strict_schema",
    "iter_string_enums",
    "resolve_ref",
    "validate_instance",
]

JSON_TYPES: Final = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
# Keywords the strict grammar does not support (documented "not supported" list).
UNSUPPORTED_KEYWORDS: Final = (
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "contains",
    "minContains",
    "maxContains",
)
_MANY_ENUM_VALUES: Final = 250


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """Size limits of the strict grammar.

    ``max_enum_values`` counts enum values across ALL enum properties of the schema (as the docs
    state), so it also bounds any single enum. ``current()`` mirrors today's api.openai.com docs;
    ``for_enum_limit(500)`` mirrors the older limits still documented for Azure OpenAI.
    ``reject_default``: Azure rejects ``default`` in strict schemas (api.openai.com now tolerates
    it); rejecting it everywhere keeps the project portable.
    """

    max_enum_values: int = 1000
    max_enum_string_length: int = 15_000  # per enum property with more than 250 string values
    max_properties: int = 5000
    max_depth: int = 10
    max_total_string_length: int = 120_000  # property names + definition names + enum/const values
    reject_default: bool = True

    @classmethod
    def current(cls) -> SchemaLimits:
        """Limits documented for api.openai.com today."""
        return cls()

    @classmethod
    def for_enum_limit(cls, enum_limit: int) -> SchemaLimits:
        """``1000`` (current) or ``500`` (older / Azure: also 7,500 and 15,000 character limits)."""
        if enum_limit <= 500:
            return cls(
                max_enum_values=enum_limit, max_enum_string_length=7_500, max_total_string_length=15_000
            )
        return cls(max_enum_values=enum_limit)


class StrictSchemaError(ValueError):
    """A schema the real API would refuse; ``str(err)`` is the full API error message."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    """Resolve a local ``$ref`` (``#`` or ``#/a/b``); raises ``KeyError`` if it does not resolve."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = root
    for raw in ref[2:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(ref)
        node = node[key]
    return node


def _types_of(node: Mapping[str, Any]) -> list[str]:
    typ = node.get("type")
    if isinstance(typ, str):
        return [typ]
    if isinstance(typ, list):
        return [t for t in typ if isinstance(t, str)]
    return []


class _Checker:
    def __init__(self, name: str, root: Mapping[str, Any], limits: SchemaLimits) -> None:
        self.name = name
        self.root = root
        self.limits = limits
        self.enum_values = 0
        self.properties = 0
        self.string_length = 0

    def fail(self, ctx: tuple[str, ...], message: str) -> StrictSchemaError:
        return StrictSchemaError(
            f"Invalid schema for response_format '{self.name}': In context={ctx!r}, {message}"
        )

    def fail_global(self, message: str) -> StrictSchemaError:
        return StrictSchemaError(f"Invalid schema for response_format '{self.name}': {message}")

    def check(self) -> None:
        root = self.root
        if _types_of(root) != ["object"] or "anyOf" in root:
            got = root.get("type", "anyOf" if "anyOf" in root else None)
            raise self.fail_global(
                f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
            )
        self.node(root, (), 0)
        lim = self.limits
        if self.enum_values > lim.max_enum_values:
            raise self.fail_global(
                f"the schema has {self.enum_values} enum values in total across all enum properties, "
                f"which exceeds the limit of {lim.max_enum_values}."
            )
        if self.properties > lim.max_properties:
            raise self.fail_global(
                f"the schema has {self.properties} object properties in total, "
                f"which exceeds the limit of {lim.max_properties}."
            )
        if self.string_length > lim.max_total_string_length:
            raise self.fail_global(
                f"the total string length of property names, definition names, enum values and const values "
                f"is {self.string_length}, which exceeds the limit of {lim.max_total_string_length}."
            )

    def defs(self, node: Mapping[str, Any], ctx: tuple[str, ...], depth: int) -> None:
        for key in ("$defs", "definitions"):
            defs = node.get(key)
            if defs is None:
                continue
            if not isinstance(defs, Mapping):
                raise self.fail(ctx, f"'{key}' must be an object.")
            for def_name, sub in defs.items():
                self.string_length += len(str(def_name))
                self.node(sub, (*ctx, key, str(def_name)), depth)

    def node(self, node: Any, ctx: tuple[str, ...], depth: int) -> None:
        if not isinstance(node, Mapping):
            raise self.fail(ctx, "schema must be a JSON Schema object.")
        self.defs(node, ctx, depth)
        if "$ref" in node:
            ref = node["$ref"]
            extra = sorted(k for k in node if k not in ("$ref", "$defs", "definitions"))
            if extra:
                raise self.fail(ctx, f"$ref cannot have keywords {set(extra)!r}.")
            try:
                resolve_ref(self.root, str(ref))
            except KeyError:
                raise self.fail(
                    ctx, f"reference to component '{ref}' which was not found in the schema."
                ) from None
            return
        for kw in UNSUPPORTED_KEYWORDS:
            if kw in node:
                raise self.fail(ctx, f"'{kw}' is not permitted.")
        if self.limits.reject_default and "default" in node:
            raise self.fail(ctx, "'default' is not permitted.")
        if "const" in node:
            self.string_length += len(str(node["const"]))
        if "enum" in node:
            self.enum(node, ctx)
        if "anyOf" in node:
            variants = node["anyOf"]
            if not isinstance(variants, list) or not variants:
                raise self.fail(ctx, "'anyOf' must be a non-empty array.")
            for i, sub in enumerate(variants):
                self.node(sub, (*ctx, "anyOf", str(i)), depth)
            return
        types = _types_of(node)
        if not types:
            if "enum" in node or "const" in node:
                return
            raise self.fail(ctx, "schema must have a 'type' key.")
        for typ in types:
            if typ not in JSON_TYPES:
                raise self.fail(ctx, f"type '{typ}' is not supported.")
        if "object" in types:
            self.object(node, ctx, depth + 1)
        if "array" in types:
            items = node.get("items")
            if items is None:
                raise self.fail(ctx, "array schema missing items.")
            self.node(items, (*ctx, "items"), depth)

    def enum(self, node: Mapping[str, Any], ctx: tuple[str, ...]) -> None:
        values = node["enum"]
        if not isinstance(values, list) or not values:
            raise self.fail(ctx, "'enum' must be a non-empty array.")
        lim = self.limits
        if len(values) > lim.max_enum_values:
            raise self.fail(
                ctx, f"enum has {len(values)} values, which exceeds the maximum of {lim.max_enum_values}."
            )
        self.enum_values += len(values)
        strings = [v for v in values if isinstance(v, str)]
        length = sum(len(v) for v in strings)
        self.string_length += length
        if len(strings) > _MANY_ENUM_VALUES and length > lim.max_enum_string_length:
            raise self.fail(
                ctx,
                f"enum has {len(strings)} string values with a total length of {length} characters; "
                f"enums with more than {_MANY_ENUM_VALUES} values are limited to "
                f"{lim.max_enum_string_length} characters.",
            )
        types = _types_of(node)
        if types:
            for value in values:
                if not any(_is_type(value, t) for t in types):
                    raise self.fail(
                        ctx, f"enum value {value!r} does not validate against {{'type': {types!r}}}."
                    )

    def object(self, node: Mapping[str, Any], ctx: tuple[str, ...], depth: int) -> None:
        if depth > self.limits.max_depth:
            raise self.fail(ctx, f"the schema exceeds the maximum nesting depth of {self.limits.max_depth}.")
        props = node.get("properties", {})
        if not isinstance(props, Mapping):
            raise self.fail(ctx, "'properties' must be an object.")
        if node.get("additionalProperties", True) is not False:
            raise self.fail(ctx, "'additionalProperties' is required to be supplied and to be false.")
        required = node.get("required", [])
        if not isinstance(required, list):
            raise self.fail(
                ctx,
                "'required' is required to be supplied and to be an array including every key in properties.",
            )
        missing = [k for k in props if k not in required]
        if missing:
            raise self.fail(
                ctx,
                "'required' is required to be supplied and to be an array including every key in properties. "
                f"Missing '{missing[0]}'.",
            )
        extra = [k for k in required if k not in props]
        if extra:
            raise self.fail(ctx, f"Extra required key '{extra[0]}' supplied.")
        self.properties += len(props)
        for key, sub in props.items():
            self.string_length += len(str(key))
            self.node(sub, (*ctx, "properties", str(key)), depth)


def check_strict_schema(name: str, schema: object, limits: SchemaLimits | None = None) -> None:
    """Raise ``StrictSchemaError`` when ``schema`` breaks a strict Structured Outputs rule."""
    if not isinstance(schema, Mapping):
        raise StrictSchemaError(
            f"Invalid schema for response_format '{name}': schema must be a JSON Schema of "
            f"'type: \"object\"', got 'type: \"{type(schema).__name__}\"'."
        )
    _Checker(name, schema, limits or SchemaLimits()).check()


def _is_type(value: object, typ: str) -> bool:
    if typ == "null":
        return value is None
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if typ == "string":
        return isinstance(value, str)
    if typ == "array":
        return isinstance(value, list)
    if typ == "object":
        return isinstance(value, dict)
    return False


def validate_instance(
    schema: Mapping[str, Any], value: object, root: Mapping[str, Any] | None = None
) -> list[str]:
    """Errors of ``value`` against ``schema`` (strict subset incl. ``$ref``/``anyOf``); empty when valid."""
    root = schema if root is None else root
    errors: list[str] = []
    _validate(schema, value, root, "$", errors)
    return errors


def _validate(
    node: Mapping[str, Any], value: object, root: Mapping[str, Any], at: str, errors: list[str]
) -> None:
    if "$ref" in node:
        try:
            target = resolve_ref(root, str(node["$ref"]))
        except KeyError:
            errors.append(f"{at}: unresolvable $ref {node['$ref']!r}")
            return
        _validate(target, value, root, at, errors)
        return
    if "anyOf" in node:
        if not any(not validate_instance(sub, value, root) for sub in node["anyOf"]):
            errors.append(f"{at}: matches no anyOf variant")
        return
    if "const" in node and value != node["const"]:
        errors.append(f"{at}: {value!r} != const {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{at}: {value!r} not in enum")
    types = _types_of(node)
    if types and not any(_is_type(value, t) for t in types):
        errors.append(f"{at}: expected {types}, got {type(value).__name__}")
        return
    if isinstance(value, dict):
        props: Mapping[str, Any] = node.get("properties", {})
        for key in node.get("required", []):
            if key not in value:
                errors.append(f"{at}: missing required property {key!r}")
        for key, sub_value in value.items():
            if key in props:
                _validate(props[key], sub_value, root, f"{at}.{key}", errors)
            elif node.get("additionalProperties", True) is False:
                errors.append(f"{at}: unexpected property {key!r}")
    elif isinstance(value, list):
        if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", math.inf):
            errors.append(f"{at}: array length {len(value)} out of bounds")
        if isinstance(node.get("items"), Mapping):
            for i, item in enumerate(value):
                _validate(node["items"], item, root, f"{at}[{i}]", errors)
    elif isinstance(value, str):
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", math.inf):
            errors.append(f"{at}: string length {len(value)} out of bounds")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if value < node.get("minimum", -math.inf) or value > node.get("maximum", math.inf):
            errors.append(f"{at}: {value} out of range")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            errors.append(f"{at}: {value} <= exclusiveMinimum")
        if "exclusiveMaximum" in node and value >= node["exclusiveMaximum"]:
            errors.append(f"{at}: {value} >= exclusiveMaximum")


def iter_string_enums(schema: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """``(property name, values)`` of every all-string enum in the schema, ``$defs`` included."""
    found: list[tuple[str, list[str]]] = []

    def walk(node: object, name: str, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(node, list):
            for sub in node:
                walk(sub, name, depth + 1)
            return
        if not isinstance(node, Mapping):
            return
        values = node.get("enum")
        if isinstance(values, list):
            strings = [v for v in values if isinstance(v, str)]
            if strings and all(isinstance(v, str) or v is None for v in values):
                found.append((name, strings))
        for key, sub in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(sub, Mapping):
                for child, child_schema in sub.items():
                    walk(child_schema, str(child), depth + 1)
            elif key in ("items", "anyOf"):
                walk(sub, name, depth + 1)

    walk(schema, "", 0)
    return found


# ``leaf(name, node)`` may return a value for a node (validated, else ignored) or ``MISSING``.
LeafFn = Callable[[str, Mapping[str, Any]], object]


def build_instance(schema: Mapping[str, Any], leaf: LeafFn | None = None) -> Any:
    """A value valid against ``schema`` (a strict-subset schema), asking ``leaf`` for preferred values."""
    return _build(schema, schema, "", leaf, 0)


def _build(
    node: Mapping[str, Any], root: Mapping[str, Any], name: str, leaf: LeafFn | None, depth: int
) -> Any:
    if depth > 64:
        return None
    if "$ref" in node:
        target = resolve_ref(root, str(node["$ref"]))
        # Break recursive schemas: deep enough, prefer a null / empty branch.
        return _build(target, root, name, leaf, depth + 1)
    if leaf is not None:
        wanted = leaf(name, node)
        if wanted is not MISSING and not validate_instance(node, wanted, root):
            return wanted
    if "anyOf" in node:
        variants = [v for v in node["anyOf"] if isinstance(v, Mapping)]
        non_null = [v for v in variants if _types_of(v) != ["null"]]
        order = [v for v in variants if _types_of(v) == ["null"]] if depth > 8 else []
        for variant in [*order, *non_null, *variants]:
            value = _build(variant, root, name, leaf, depth + 1)
            if not validate_instance(variant, value, root):
                return value
        return None
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        values = node["enum"]
        return next((v for v in values if v is not None), values[0])
    types = _types_of(node) or ["object"]
    typ = next((t for t in types if t != "null"), "null")
    if depth > 8 and "null" in types:
        typ = "null"
    if typ == "object":
        props: Mapping[str, Any] = node.get("properties", {})
        return {key: _build(sub, root, str(key), leaf, depth + 1) for key, sub in props.items()}
    if typ == "array":
        items = node.get("items")
        count = int(node.get("minItems", 0))
        if not isinstance(items, Mapping):
            return [None] * count
        return [_build(items, root, name, leaf, depth + 1) for _ in range(count)]
    if typ == "string":
        text = "n/a"
        min_len = int(node.get("minLength", 0))
        text = text + "." * max(0, min_len - len(text))
        return text[: int(node.get("maxLength", len(text)))]
    if typ in ("number", "integer"):
        low = float(node.get("minimum", node.get("exclusiveMinimum", -math.inf)))
        high = float(node.get("maximum", node.get("exclusiveMaximum", math.inf)))
        guess = 1.0 if typ == "integer" else 0.5
        if "exclusiveMinimum" in node:
            low += 1 if typ == "integer" else 1e-6
        if "exclusiveMaximum" in node:
            high -= 1 if typ == "integer" else 1e-6
        number = min(max(guess, low), high)
        return math.ceil(number) if typ == "integer" else number
    if typ == "boolean":
        return False
    return None
