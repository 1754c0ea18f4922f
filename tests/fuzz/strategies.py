"""Hypothesis strategies built from protobuf descriptors alone: `messages(descriptor)` draws a message of any
type, every field type included (scalars at their extremes, strings that are empty, huge, full of NUL, bidi
controls, injection text or non-characters, bytes, enums with values the contract does not define, repeated
fields, maps, oneofs, nested messages down to a depth), each field set or left unset, so the empty message
is a frequent example. `overrides` replaces the strategy of a field by its name (at any depth), which is how
tests mix real identifiers into the junk: `messages(d, {"account_number": st.sampled_from([real]) | junk})`.

Nothing here knows the bank's contracts: it is reused for every RPC, public or internal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)

# Strings that break parsers, logs, databases and comparisons more often than random text does.
NASTY_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 64,
    "\t\r\n",
    "\u202e\u202d",  # bidi overrides
    "\u200b\u200d\ufeff",  # zero-width characters, BOM
    "\uffff\ufffe\U0010ffff",  # non-characters
    "\ufffd",
    "ｋｉｍ１２３",  # full-width
    "e\u0301" * 50,  # combining marks
    "홍길동",
    "🏦💸",
    "' OR '1'='1' --",
    "'; DROP TABLE accounts; --",
    '" OR 1=1 --',
    "../../../../etc/passwd",
    "%s%s%s%n",
    "{{7*7}}${7*7}",
    "${jndi:ldap://127.0.0.1/a}",
    "<script>alert(1)</script>",
    "-1",
    "0",
    "9223372036854775808",
    "1100000000000",
    "NaN",
    "null",
    "true",
    "/",
    "?#&=",
    "%2e%2e%2f",
)
HUGE_STRINGS = ("x" * 70_000, "가" * 30_000, "\x00" * 5_000)


def strings(huge: bool = True) -> st.SearchStrategy[str]:
    """Text of every kind protobuf can carry (valid UTF-8: the wire tests send the invalid kind)."""
    parts = [
        st.sampled_from(NASTY_STRINGS + (HUGE_STRINGS if huge else ())),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
        st.from_regex(r"[A-Za-z0-9_.@-]{1,40}", fullmatch=True),
    ]
    return st.one_of(*parts)


def integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = sorted(v for v in {low, low + 1, -1, 0, 1, 2, high - 1, high} if low <= v <= high)
    return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers(max(low, -1000), 100_000))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return strings()
    if t == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"\x00" * 1024, bytes(range(256))]))
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return integers(INT32)
    if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return integers(INT64)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return integers(UINT32)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return integers(UINT64)
    if t == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32)
    if t == FieldDescriptor.TYPE_DOUBLE:
        return st.floats()
    if t == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), integers(INT32))  # open enums: unknown numbers too
    raise TypeError(f"{field.full_name}: unsupported field type {t}")


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _single(field: FieldDescriptor, overrides: Mapping[str, st.SearchStrategy[Any]], depth: int) -> Any:
    if field.name in overrides:
        return overrides[field.name]
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, overrides, depth - 1)
    return _scalar(field)


def _field(field: FieldDescriptor, overrides: Mapping[str, st.SearchStrategy[Any]], depth: int) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE and depth <= 0:
        return st.nothing()
    if _is_map(field):
        key = _scalar(field.message_type.fields_by_name["key"])
        value = _single(field.message_type.fields_by_name["value"], overrides, depth)
        return st.dictionaries(key, value, max_size=4)
    if field.is_repeated:
        return st.lists(_single(field, overrides, depth), max_size=5)
    return _single(field, overrides, depth)


def messages(
    descriptor: Descriptor, overrides: Mapping[str, st.SearchStrategy[Any]] | None = None, depth: int = 4
) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`'s type; each field unset or drawn from its strategy (or `overrides[name]`)."""
    overrides = overrides or {}
    message_class = GetMessageClass(descriptor)
    fields = {f.name: st.one_of(st.none(), _field(f, overrides, depth)) for f in descriptor.fields}
    return st.fixed_dictionaries(fields).map(lambda values: build(message_class, values))


def build(message_class: type[Message], values: Mapping[str, Any]) -> Message:
    message = message_class()
    for name, value in values.items():
        if value is None:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name) if field.type == FieldDescriptor.TYPE_MESSAGE or field.is_repeated else None
        if _is_map(field):
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message
