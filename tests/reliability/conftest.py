"""Fixtures of the reliability suite."""

import pytest

from tests.reliability.report import start_report


@pytest.fixture(scope="session", autouse=True)
def reliability_report() -> None:
    start_report()
