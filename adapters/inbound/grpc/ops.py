"""Operator views of a service's machinery (bank.ops.v1): the outbox backlog, for `bank outbox status`.
Operator token first, as every operator RPC (operator.py); served on the service's gRPC port, never routed
by the gateway."""

from __future__ import annotations

from adapters.common.protobuf import timestamp
from adapters.inbound.grpc.metadata import CallContext
from adapters.inbound.grpc.operator import OperatorGuard
from adapters.inbound.grpc.server import Servicer
from bank.ops.v1 import ops_service_pb2, ops_service_pb2_grpc
from bank.ops.v1.ops_service_pb2 import GetOutboxStatusRequest, GetOutboxStatusResponse
from domain.shared.ports import OutboxMonitor

SERVICE_NAME = ops_service_pb2.DESCRIPTOR.services_by_name["OutboxService"].full_name


class OutboxServicer(ops_service_pb2_grpc.OutboxServiceServicer):
    def __init__(self, monitor: OutboxMonitor, operators: OperatorGuard) -> None:
        self._monitor = monitor
        self._operators = operators

    async def GetOutboxStatus(self, request: GetOutboxStatusRequest, context: CallContext) -> GetOutboxStatusResponse:
        self._operators.check(context, "GetOutboxStatus")
        status = await self._monitor.status()
        response = GetOutboxStatusResponse(pending=status.pending, sent=status.sent)
        if status.oldest_pending_at is not None:
            response.oldest_pending_at.CopyFrom(timestamp(status.oldest_pending_at))
        if status.last_sent_at is not None:
            response.last_sent_at.CopyFrom(timestamp(status.last_sent_at))
        return response


def outbox_servicer(monitor: OutboxMonitor, operators: OperatorGuard) -> Servicer:
    add = ops_service_pb2_grpc.add_OutboxServiceServicer_to_server
    return Servicer(SERVICE_NAME, add, OutboxServicer(monitor, operators))
