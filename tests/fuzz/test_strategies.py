"""The descriptor-built strategies themselves: for every message type of the contracts (requests, answers,
events: scalars, enums, repeated, nested, well-known types), drawn messages serialize and parse back, the empty
message comes up, and enum fields get numbers the contract does not define."""

from __future__ import annotations

from importlib import import_module

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.descriptor_pool import Default as default_pool
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import messages

MODULES = [
    *(f"bank.{p}.v1.{p}_service_pb2" for p in ("customer", "member", "account", "my_accounts")),
    *(f"bank.{p}.v1.events_pb2" for p in ("customer", "member", "account")),
    "bank.ops.v1.ops_service_pb2",
]


def _types() -> list[str]:
    names = []
    for module in MODULES:
        for message in import_module(module).DESCRIPTOR.message_types_by_name.values():
            names.append(message.full_name)
    return sorted(names)


def _draw(descriptor, examples: int = 30) -> list:  # type: ignore[no-untyped-def]
    drawn = []

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None)
    @given(messages(descriptor))
    def round_trip(message) -> None:  # type: ignore[no-untyped-def]
        assert type(message).FromString(message.SerializeToString()) == message
        drawn.append(message)

    round_trip()
    return drawn


def test_every_contract_message_type_round_trips() -> None:
    seen_empty, unknown_enum = set(), set()
    for name in _types():
        descriptor = default_pool().FindMessageTypeByName(name)
        enums = [f for f in descriptor.fields if f.type == FieldDescriptor.TYPE_ENUM]
        drawn = _draw(descriptor)
        if any(not m.SerializeToString() for m in drawn):
            seen_empty.add(name)
        for field in enums:
            known = {v.number for v in field.enum_type.values}
            if any(getattr(m, field.name) not in known for m in drawn):
                unknown_enum.add(name)
    assert len(seen_empty) > len(_types()) // 2
    assert {"bank.member.v1.LoginFailed", "bank.account.v1.BalanceChanged"} <= unknown_enum


def test_overrides_mix_real_values_in() -> None:
    descriptor = default_pool().FindMessageTypeByName("bank.account.v1.DepositRequest")
    drawn = []

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(messages(descriptor, {"account_number": st.just("11000000000001")}))
    def collect(message) -> None:  # type: ignore[no-untyped-def]
        drawn.append(message)

    collect()
    assert any(m.account_number == "11000000000001" for m in drawn)
    assert {m.amount for m in drawn} & {2**63 - 1, -(2**63)}
