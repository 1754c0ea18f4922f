"""One logging setup for every service: JSON lines on stderr, each with the service name and the
correlation id of the call or event being handled and the OpenTelemetry trace and span ids (empty outside a
span). Log messages never carry request payloads."""

from __future__ import annotations

import logging
import sys

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


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
