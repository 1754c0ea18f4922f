"""The one table from domain refusals to gRPC status codes, with `google.rpc` details clients can act on
(ErrorInfo always; BadRequest for invalid fields; RetryInfo for overload). Anything not in the table is a
fault: logged with a reference id, answered as INTERNAL with only that reference."""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from bank.common.v1 import errors_pb2
from domain.shared import errors

log = logging.getLogger(__name__)

DOMAIN = "bank"

# Most specific first: the first class in the error's MRO that is listed here decides.
TABLE: dict[type[errors.DomainError], tuple[int, int]] = {
    errors.InvalidArgument: (code_pb2.INVALID_ARGUMENT, errors_pb2.ERROR_REASON_INVALID_ARGUMENT),
    errors.NotFound: (code_pb2.NOT_FOUND, errors_pb2.ERROR_REASON_NOT_FOUND),
    errors.AlreadyExists: (code_pb2.ALREADY_EXISTS, errors_pb2.ERROR_REASON_ALREADY_EXISTS),
    errors.IdempotencyKeyReused: (code_pb2.FAILED_PRECONDITION, errors_pb2.ERROR_REASON_IDEMPOTENCY_KEY_REUSED),
    errors.FailedPrecondition: (code_pb2.FAILED_PRECONDITION, errors_pb2.ERROR_REASON_FAILED_PRECONDITION),
    errors.InvalidToken: (code_pb2.UNAUTHENTICATED, errors_pb2.ERROR_REASON_INVALID_TOKEN),
    errors.Unauthenticated: (code_pb2.UNAUTHENTICATED, errors_pb2.ERROR_REASON_INVALID_CREDENTIALS),
    errors.PermissionDenied: (code_pb2.PERMISSION_DENIED, errors_pb2.ERROR_REASON_PERMISSION_DENIED),
    errors.Overloaded: (code_pb2.RESOURCE_EXHAUSTED, errors_pb2.ERROR_REASON_OVERLOADED),
    errors.DependencyUnavailable: (code_pb2.UNAVAILABLE, errors_pb2.ERROR_REASON_DEPENDENCY_UNAVAILABLE),
}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _status(
    code: int, message: str, reason: int, *extra: object, metadata: dict[str, str] | None = None
) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=errors_pb2.ErrorReason.Name(reason).removeprefix("ERROR_REASON_"), domain=DOMAIN, metadata=metadata or {}
    )
    status = status_pb2.Status(code=code, message=message, details=[_pack(info), *(_pack(e) for e in extra)])
    return rpc_status.to_status(status)


def status_for(error: errors.DomainError) -> grpc.Status:
    """The status of a refusal: code and reason from the table, the error's own safe message."""
    code, reason = next(TABLE[c] for c in type(error).__mro__ if c in TABLE)
    extra: list[object] = []
    if isinstance(error, errors.InvalidArgument):
        violation = error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.problem)
        extra.append(error_details_pb2.BadRequest(field_violations=[violation]))
    if isinstance(error, errors.Overloaded):
        extra.append(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=error.retry_after_seconds)))
    return _status(code, error.message, reason, *extra)


def status_for_exception(error: Exception, method: str) -> grpc.Status:
    """A refusal's status, or INTERNAL with a reference for anything unexpected (logged here)."""
    return status_for(error) if isinstance(error, errors.DomainError) else status_for_fault(method)


def status_for_fault(method: str) -> grpc.Status:
    """An unexpected exception: logged by the caller with this reference, never described to the client."""
    reference = uuid.uuid4().hex[:16]
    log.exception("unexpected fault in %s (reference %s)", method, reference)
    return _status(
        code_pb2.INTERNAL,
        f"internal error (reference {reference})",
        errors_pb2.ERROR_REASON_INTERNAL,
        metadata={"reference": reference},
    )


def status_for_undecodable() -> grpc.Status:
    """A request whose bytes are not a valid message (wrong wire types, invalid UTF-8, truncated)."""
    return _status(
        code_pb2.INVALID_ARGUMENT,
        "request: not a valid message",
        errors_pb2.ERROR_REASON_INVALID_ARGUMENT,
    )
