"""What the real Chat Completions API accepts: strict Structured Outputs schemas and request parameters.

``check_strict_schema`` rejects what the real API rejects, with the real message shapes
(``Invalid schema for response_format 'NAME': In context=('properties', 'x'), ...``);
``validate_request`` checks a whole request body (parameters, reasoning-model restrictions,
``response_format``) and raises ``ApiError`` carrying the OpenAI error body. ``validate_instance``
checks a JSON value against the supported schema subset and ``build_instance`` produces a value that
satisfies a schema (used by the test server's default responder).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MISSING",
    "ApiError",
    "SchemaLimits",
    "StrictSchemaError",
    "azure_error",
    "build_instance",
    "check_strict_schema",
    "invalid_request",
    "is_reasoning_model",
    "iter_string_enums",
    "message_text",
    "model_limits",
    "resolve_ref",
    "server_error",
    "validate_instance",
    "validate_request",
]

JSONDict = dict[str, Any]

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
KNOWN_PARAMS: Final = frozenset(
    {
        "model", "messages", "response_format", "max_tokens", "max_completion_tokens", "temperature",
        "top_p", "n", "stop", "stream", "stream_options", "logprobs", "top_logprobs", "reasoning_effort",
        "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "seed", "user",
        "safety_identifier", "metadata", "store", "service_tier", "tools", "tool_choice",
        "parallel_tool_calls", "frequency_penalty", "presence_penalty", "logit_bias", "modalities",
        "audio", "prediction", "verbosity", "web_search_options", "functions", "function_call",
        "moderation", "data_sources", "user_security_context",
    }
)  # fmt: skip
ROLES: Final = ("system", "assistant", "user", "function", "tool", "developer")
REASONING_EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh")
_AZURE_SO_MIN_VERSION: Final = "2024-08-01"  # first Azure api-version with json_schema
MSG_JSON_OBJECT: Final = (
    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
)
MSG_AZURE_SO_VERSION: Final = (
    "response_format value as json_schema is enabled only for api versions 2024-08-01-preview and later"
)


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


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message's ``content`` (string or list of ``{"type": "text"}`` parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


# --------------------------------------------------------------------------- request parameters


def is_reasoning_model(model: str) -> bool:
    """``gpt-5*``, ``o1*``, ``o3*``, ``o4*`` (not the ``*-chat*`` variants)."""
    name = model.lower()
    return name.startswith(("gpt-5", "o1", "o3", "o4")) and "chat" not in name


def model_limits(model: str) -> tuple[int, int]:
    """``(context window, max output tokens)`` of a model family."""
    name = model.lower()
    if name.startswith("gpt-5"):
        return 400_000, 128_000
    if name.startswith(("o1", "o3", "o4")):
        return 200_000, 100_000
    if name.startswith("gpt-4.1"):
        return 1_047_576, 32_768
    return 128_000, 16_384


class ApiError(Exception):
    """An error answer: HTTP status and JSON (or text) body."""

    def __init__(self, status: int, body: JSONDict | str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def invalid_request(
    message: str, param: str | None = None, code: str | None = None, status: int = 400
) -> ApiError:
    """An OpenAI ``invalid_request_error``."""
    return ApiError(
        status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    )


def server_error(status: int, message: str, kind: str = "server_error", code: str | None = None) -> ApiError:
    """An OpenAI error of another ``type`` (``server_error``, ``insufficient_quota``...)."""
    return ApiError(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


def azure_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> ApiError:
    """An Azure gateway error (``{"error": {"code", "message"}}``)."""
    return ApiError(status, {"error": {"code": code, "message": message}}, headers)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "an object"


def _check_number(body: Mapping[str, Any], name: str, low: float, high: float, integer: bool) -> None:
    value = body.get(name)
    if value is None:
        return
    kind = "integer" if integer else "decimal"
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool):
        raise invalid_request(
            f"Invalid type for '{name}': expected {'an integer' if integer else 'a decimal'}, "
            f"but got {_type_name(value)} instead.",
            name,
            "invalid_type",
        )
    if value < low:
        raise invalid_request(
            f"Invalid '{name}': {kind} below minimum value. "
            f"Expected a value >= {low:g}, but got {value} instead.",
            name,
            f"{kind}_below_min_value",
        )
    if value > high:
        raise invalid_request(
            f"Invalid '{name}': {kind} above maximum value. "
            f"Expected a value <= {high:g}, but got {value} instead.",
            name,
            f"{kind}_above_max_value",
        )


def _check_string(body: Mapping[str, Any], name: str) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_request(
            f"Invalid type for '{name}': expected a string, but got {_type_name(value)} instead.",
            name,
            "invalid_type",
        )


def _unsupported(name: str) -> ApiError:
    return invalid_request(
        f"Unsupported parameter: '{name}' is not supported with this model.", name, "unsupported_parameter"
    )


def validate_request(
    body: object, model: str, limits: SchemaLimits, api_version: str | None = None
) -> JSONDict:
    """Check a chat completion body like the real API; raise ``ApiError`` (400) on the first problem."""
    if not isinstance(body, dict):
        raise invalid_request("Invalid type for request body: expected an object.", None, "invalid_type")
    for key in body:
        if key not in KNOWN_PARAMS:
            raise invalid_request(f"Unrecognized request argument supplied: {key}")
    if not model:
        raise invalid_request("you must provide a model parameter")
    messages = body.get("messages")
    if messages is None:
        raise invalid_request(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise invalid_request(
            f"Invalid type for 'messages': expected an array, but got {_type_name(messages)} instead.",
            "messages",
            "invalid_type",
        )
    if not messages:
        raise invalid_request(
            "Invalid 'messages': empty array. "
            "Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid_request(
                f"Invalid type for 'messages[{i}]': "
                f"expected an object, but got {_type_name(message)} instead.",
                f"messages[{i}]",
                "invalid_type",
            )
        role = message.get("role")
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            raise invalid_request(
                f"Invalid value: '{role}'. Supported values are: {supported}.",
                f"messages[{i}].role",
                "invalid_value",
            )
        content = message.get("content")
        if content is None and role != "assistant":
            raise invalid_request(
                f"Missing required parameter: 'messages[{i}].content'.",
                f"messages[{i}].content",
                "missing_required_parameter",
            )
        if content is not None and not isinstance(content, str | list):
            raise invalid_request(
                f"Invalid type for 'messages[{i}].content': expected one of a string or array of objects, "
                f"but got {_type_name(content)} instead.",
                f"messages[{i}].content",
                "invalid_type",
            )
    if body.get("stream"):
        raise invalid_request(
            "stream=true is not supported by this test server.", "stream", "unsupported_parameter"
        )
    reasoning = is_reasoning_model(model)
    _check_number(body, "temperature", 0, 2, integer=False)
    _check_number(body, "top_p", 0, 1, integer=False)
    _check_number(body, "n", 1, 128, integer=True)
    _check_number(body, "seed", -(2**63), 2**63 - 1, integer=True)
    _check_number(body, "top_logprobs", 0, 20, integer=True)
    for name in ("user", "prompt_cache_key", "safety_identifier"):
        _check_string(body, name)
    _, max_output = model_limits(model)
    for name in ("max_tokens", "max_completion_tokens"):
        _check_number(body, name, 1, 2**31, integer=True)
        value = body.get(name)
        if value is not None and value > max_output:
            raise invalid_request(
                f"max_tokens is too large: {value}. This model supports at most {max_output} "
                f"completion tokens, whereas you provided {value}.",
                name,
                "invalid_value",
            )
    effort = body.get("reasoning_effort")
    if reasoning:
        if body.get("max_tokens") is not None:
            raise invalid_request(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1 and effort != "none":
            raise invalid_request(
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) value is supported.",
                "temperature",
                "unsupported_value",
            )
        if body.get("logprobs") or body.get("top_logprobs") is not None:
            raise _unsupported("logprobs" if body.get("logprobs") else "top_logprobs")
        if effort is not None and effort not in REASONING_EFFORTS:
            supported = (
                ", ".join(f"'{e}'" for e in REASONING_EFFORTS[:-1]) + f", and '{REASONING_EFFORTS[-1]}'"
            )
            raise invalid_request(
                f"Invalid value: '{effort}'. Supported values are: {supported}.",
                "reasoning_effort",
                "invalid_value",
            )
    elif effort is not None:
        raise _unsupported("reasoning_effort")
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise invalid_request(
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
            "top_logprobs",
            "invalid_value",
        )
    _validate_response_format(body, limits, api_version)
    return body


def _validate_response_format(body: Mapping[str, Any], limits: SchemaLimits, api_version: str | None) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, Mapping):
        raise invalid_request(
            f"Invalid type for 'response_format': expected an object, but got {_type_name(fmt)} instead.",
            "response_format",
            "invalid_type",
        )
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        if not any("json" in message_text(m).lower() for m in body["messages"]):
            raise invalid_request(MSG_JSON_OBJECT, "messages")
        return
    if kind != "json_schema":
        raise invalid_request(
            f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
            "response_format.type",
            "invalid_value",
        )
    if api_version is not None and api_version[:10] < _AZURE_SO_MIN_VERSION:
        raise invalid_request(MSG_AZURE_SO_VERSION, "response_format", "BadRequest")
    spec = fmt.get("json_schema")
    if not isinstance(spec, Mapping):
        raise invalid_request(
            "Missing required parameter: 'response_format.json_schema'.",
            "response_format.json_schema",
            "missing_required_parameter",
        )
    name = spec.get("name")
    if not isinstance(name, str):
        raise invalid_request(
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
            "missing_required_parameter",
        )
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        raise invalid_request(
            "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string "
            f"that matches the pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters), but got '{name}' instead.",
            "response_format.json_schema.name",
            "invalid_value",
        )
    if spec.get("strict") is True:
        try:
            check_strict_schema(name, spec.get("schema", {}), limits)
        except StrictSchemaError as err:
            raise invalid_request(str(err), "response_format") from None
