"""Last in the fuzz package (by name): the secret scan (tests/secret_scan.py) over what this package's system
wrote: every service's log, Envoy's, the var directory's logs, every record of its topics (values and
headers), and every refusal the fuzz tests received. scripts/test.sh runs the same scan over the whole
suite's logs and topics at the end."""

from __future__ import annotations

import pytest

from tests.fuzz.world import MESSAGES, Fixtures
from tests.reliability.report import put
from tests.secret_scan import Scan, scan_files, scan_kafka, scan_messages
from tests.used_secrets import used

pytestmark = pytest.mark.kafka


def test_no_secret_in_logs_topics_or_error_messages(fixtures: Fixtures, kafka: str) -> None:
    system = fixtures.system
    secrets = used()
    assert secrets, "the tests registered no secret: nothing exact to look for"
    scan = Scan(secrets)
    scan_files(scan, [system.root])  # type: ignore[attr-defined]
    scan_kafka(scan, kafka, (system.topic_prefix,))  # type: ignore[attr-defined]
    scan_messages(scan, MESSAGES)
    put("secret scan (tests/fuzz", scan.summary().replace("secret scan:", "secret scan (tests/fuzz):"), "fuzz")
    assert scan.files >= 4 and scan.records > 0, scan.summary()
    assert scan.findings == [], "\n".join(scan.findings[:30])
