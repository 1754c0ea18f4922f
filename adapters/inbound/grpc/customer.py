"""The customer service over gRPC: requests become commands of the CustomerApplication, customers become
messages. Every RPC is an operator's: each checks the operator token first (operator.py). No business rule
lives here."""

from __future__ import annotations

from adapters.common.protobuf import timestamp
from adapters.inbound.grpc.metadata import CallContext
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import Servicer
from bank.customer.v1 import customer_pb2, customer_service_pb2, customer_service_pb2_grpc
from bank.customer.v1.customer_service_pb2 import (
    GetCustomerRequest,
    GetCustomerResponse,
    RegisterCustomerRequest,
    RegisterCustomerResponse,
    ReinstateCustomerRequest,
    ReinstateCustomerResponse,
    SuspendCustomerRequest,
    SuspendCustomerResponse,
    TerminateCustomerRequest,
    TerminateCustomerResponse,
)
from domain.customer.commands import RegisterCustomer, ReinstateCustomer, SuspendCustomer, TerminateCustomer
from domain.customer.handlers import CustomerApplication
from domain.customer.model import Customer

SERVICE_NAME = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name


def customer_message(c: Customer) -> customer_pb2.Customer:
    return customer_pb2.Customer(
        customer_id=c.customer_id,
        name=c.name,
        status=customer_pb2.CustomerStatus.Value(f"CUSTOMER_STATUS_{c.status.value}"),
        version=c.version,
        registered_at=timestamp(c.registered_at),
        updated_at=timestamp(c.updated_at),
    )


class CustomerServicer(customer_service_pb2_grpc.CustomerServiceServicer):
    def __init__(self, app: CustomerApplication, operators: OperatorGuard) -> None:
        self._app = app
        self._operators = operators

    async def RegisterCustomer(
        self, request: RegisterCustomerRequest, context: CallContext
    ) -> RegisterCustomerResponse:
        self._operators.check(context, "RegisterCustomer")
        customer = await self._app.register_customer(RegisterCustomer(name=request.name))
        return RegisterCustomerResponse(customer=customer_message(customer))

    async def GetCustomer(self, request: GetCustomerRequest, context: CallContext) -> GetCustomerResponse:
        self._operators.check(context, "GetCustomer")
        return GetCustomerResponse(customer=customer_message(await self._app.get_customer(request.customer_id)))

    async def SuspendCustomer(self, request: SuspendCustomerRequest, context: CallContext) -> SuspendCustomerResponse:
        self._operators.check(context, "SuspendCustomer")
        customer = await self._app.suspend_customer(SuspendCustomer(request.customer_id))
        return SuspendCustomerResponse(customer=customer_message(customer))

    async def ReinstateCustomer(
        self, request: ReinstateCustomerRequest, context: CallContext
    ) -> ReinstateCustomerResponse:
        self._operators.check(context, "ReinstateCustomer")
        customer = await self._app.reinstate_customer(ReinstateCustomer(request.customer_id))
        return ReinstateCustomerResponse(customer=customer_message(customer))

    async def TerminateCustomer(
        self, request: TerminateCustomerRequest, context: CallContext
    ) -> TerminateCustomerResponse:
        self._operators.check(context, "TerminateCustomer")
        customer = await self._app.terminate_customer(TerminateCustomer(request.customer_id))
        return TerminateCustomerResponse(customer=customer_message(customer))


def customer_servicer(app: CustomerApplication, operators: OperatorGuard) -> Servicer:
    return Servicer(
        SERVICE_NAME, customer_service_pb2_grpc.add_CustomerServiceServicer_to_server, CustomerServicer(app, operators)
    )
