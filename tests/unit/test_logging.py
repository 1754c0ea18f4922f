"""A logged exception shows where it happened and what kind it was, never what it said: a database driver's
message holds SQL and parameters, other libraries' hold paths, URLs and secrets."""

from __future__ import annotations

import io
import json
import logging

from adapters.common.logging import RedactingJsonFormatter

SECRET = "SELECT password FROM members WHERE banking_id='alice'"


def fail_inside() -> None:
    raise ValueError(SECRET)


def test_a_logged_exception_keeps_its_types_and_frames_and_loses_its_text() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingJsonFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_logging")
    logger.addHandler(handler)
    try:
        try:
            fail_inside()
        except ValueError as exc:
            raise RuntimeError(f"wrapped: {exc}") from exc
    except RuntimeError:
        logger.exception("the pass failed")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "the pass failed"
    trace = line["exc_info"]
    assert "alice" not in trace and "SELECT" not in trace and "wrapped" not in trace
    # both exceptions of the chain, the cause first, each with its frames
    cause, consequence = "builtins.ValueError (message withheld)", "builtins.RuntimeError (message withheld)"
    assert trace.index(cause) < trace.index(consequence)
    assert "in fail_inside" in trace
    assert "The above exception led to the following exception:" in trace
