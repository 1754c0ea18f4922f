"""One logging setup for every service: JSON lines on stderr, each with the service name and the
correlation id of the call or event being handled and the OpenTelemetry trace and span ids (empty outside a
span). Log messages never carry request payloads, and a logged exception shows its types and frames but never
its message: a driver's message can hold SQL, parameters or paths (see RedactingJsonFormatter)."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from pythonjsonlogger.json import JsonFormatter

from adapters.common.context import correlation_id
from adapters.common.tracing import current_ids


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.correlation_id = correlation_id.get()
        record.trace_id, record.span_id = current_ids()
        return True


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines whose exc_info is each exception of the chain (causes first, as Python prints them) with its
    class and the file, line and function of each frame, without the exception's text or the source lines."""

    def formatException(self, ei: ExcInfo) -> str:
        return "" if ei[1] is None else redacted_traceback(ei[1])


def redacted_traceback(exc: BaseException) -> str:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    lines: list[str] = []
    for link in reversed(chain):
        if lines:
            lines.append("The above exception led to the following exception:")
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(link.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        kind = type(link)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message withheld)")
    return "\n".join(lines)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
