"""The Customer aggregate: allowed transitions only, one event per change, versions that count changes."""

import pytest

from domain.customer.errors import TransitionNotAllowed
from domain.customer.events import CustomerRegistered, CustomerReinstated, CustomerSuspended, CustomerTerminated
from domain.customer.model import Customer, CustomerStatus
from domain.shared.errors import InvalidArgument
from tests.fakes import FakeClock

clock = FakeClock()


def registered() -> Customer:
    customer = Customer.register("Hong Gildong", clock.now())
    customer.take_events()
    return customer


def test_registration_records_one_event_with_version_1() -> None:
    customer = Customer.register("  홍길동  ", clock.now())
    assert customer.name == "홍길동"
    assert customer.status is CustomerStatus.NORMAL
    [event] = customer.take_events()
    assert isinstance(event, CustomerRegistered)
    assert (event.customer_id, event.customer_version) == (customer.customer_id, 1)


def test_full_lifecycle_bumps_the_version_per_change() -> None:
    customer = registered()
    customer.suspend(clock.now())
    customer.reinstate(clock.now())
    customer.terminate(clock.now())
    assert customer.status is CustomerStatus.TERMINATED
    assert customer.version == 4
    assert [type(e) for e in customer.take_events()] == [CustomerSuspended, CustomerReinstated, CustomerTerminated]


def test_a_suspended_customer_can_be_terminated() -> None:
    customer = registered()
    customer.suspend(clock.now())
    customer.terminate(clock.now())
    assert customer.status is CustomerStatus.TERMINATED


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], Customer.reinstate),
        (["suspend"], Customer.suspend),
        (["terminate"], Customer.reinstate),
        (["terminate"], Customer.suspend),
        (["terminate"], Customer.terminate),
    ],
)
def test_forbidden_transitions_change_nothing(setup: list[str], action) -> None:  # type: ignore[no-untyped-def]
    customer = registered()
    for step in setup:
        getattr(customer, step)(clock.now())
    customer.take_events()
    before = (customer.status, customer.version)
    with pytest.raises(TransitionNotAllowed):
        action(customer, clock.now())
    assert (customer.status, customer.version) == before
    assert customer.take_events() == []


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 101, "x" * 10_000, "bad\x00name", "tab\tname", "bidi\u202ename", "zero\u200bwidth"],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        Customer.register(name, clock.now())
    assert refused.value.field == "name"


def test_names_at_the_limit_are_accepted() -> None:
    assert Customer.register("가" * 100, clock.now()).name == "가" * 100
