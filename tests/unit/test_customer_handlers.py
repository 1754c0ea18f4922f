"""The customer use cases with fakes: end state and published events, and nothing changed on refusal."""

import pytest

from domain.customer.commands import RegisterCustomer, ReinstateCustomer, SuspendCustomer, TerminateCustomer
from domain.customer.errors import CustomerNotFound, TransitionNotAllowed
from domain.customer.events import CustomerRegistered, CustomerTerminated
from domain.customer.handlers import CustomerApplication
from domain.customer.model import CustomerStatus
from domain.shared.errors import InvalidArgument
from tests.fakes import FakeClock, FakeCustomerUnitOfWork, FakeStore


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def app(store: FakeStore) -> CustomerApplication:
    return CustomerApplication(lambda: FakeCustomerUnitOfWork(store), FakeClock())


async def test_register_stores_the_customer_and_publishes(app: CustomerApplication, store: FakeStore) -> None:
    customer = await app.register_customer(RegisterCustomer("Kim"))
    assert store.rows[customer.customer_id].status is CustomerStatus.NORMAL
    assert [type(e) for e in store.outbox] == [CustomerRegistered]


async def test_terminate_publishes_customer_terminated(app: CustomerApplication, store: FakeStore) -> None:
    customer = await app.register_customer(RegisterCustomer("Kim"))
    terminated = await app.terminate_customer(TerminateCustomer(customer.customer_id))
    assert terminated.status is CustomerStatus.TERMINATED
    assert store.rows[customer.customer_id].status is CustomerStatus.TERMINATED
    assert isinstance(store.outbox[-1], CustomerTerminated)
    assert store.outbox[-1].customer_version == 2


async def test_reinstating_a_terminated_customer_changes_nothing(app: CustomerApplication, store: FakeStore) -> None:
    customer = await app.register_customer(RegisterCustomer("Kim"))
    await app.terminate_customer(TerminateCustomer(customer.customer_id))
    outbox_before = list(store.outbox)
    with pytest.raises(TransitionNotAllowed):
        await app.reinstate_customer(ReinstateCustomer(customer.customer_id))
    assert store.rows[customer.customer_id].status is CustomerStatus.TERMINATED
    assert store.outbox == outbox_before


@pytest.mark.parametrize(
    "customer_id",
    ["", "x", "2D5B6B84-EA31-4287-92FC-5C12B4D6F24E", "{2d5b6b84-ea31-4287-92fc-5c12b4d6f24e}", "1" * 10_000],
)
async def test_malformed_ids_are_invalid_arguments(app: CustomerApplication, customer_id: str) -> None:
    with pytest.raises(InvalidArgument):
        await app.suspend_customer(SuspendCustomer(customer_id))


async def test_unknown_ids_are_not_found(app: CustomerApplication, store: FakeStore) -> None:
    with pytest.raises(CustomerNotFound):
        await app.get_customer("2d5b6b84-ea31-4287-92fc-5c12b4d6f24e")
    assert store.outbox == []


async def test_a_bad_name_stores_nothing(app: CustomerApplication, store: FakeStore) -> None:
    with pytest.raises(InvalidArgument):
        await app.register_customer(RegisterCustomer(" \t "))
    assert store.rows == {} and store.outbox == []
