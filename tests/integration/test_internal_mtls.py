"""my_accounts' internal port (the accounts snapshot at login, the view admin) answers only callers with a
certificate of the internal CA and the right identity (issue 15: "the internal snapshot RPC answers any caller
who reaches its port with any customer id"). Refused: plain text, TLS without a client certificate, a
certificate of another CA (all at the handshake: UNAVAILABLE), the right CA with another identity
(PERMISSION_DENIED). The member service's login still gets its snapshot."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from adapters.outbound.security.service_tls import MY_ACCOUNTS, load_or_create
from bank.member.v1 import member_pb2
from bank.my_accounts.v1 import my_accounts_service_pb2 as msgs
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from tests import service_identity
from tests.integration.test_my_accounts_service import ViewSystem

pytestmark = pytest.mark.kafka


@pytest.fixture
def system(service_factory, kafka: str) -> ViewSystem:  # type: ignore[no-untyped-def]
    return ViewSystem(service_factory, kafka)


def snapshot(channel: grpc.Channel, customer_id: str) -> msgs.GetAccountsSnapshotResponse:
    stub = my_accounts_service_pb2_grpc.AccountsSnapshotServiceStub(channel)
    return stub.GetAccountsSnapshot(msgs.GetAccountsSnapshotRequest(customer_id=customer_id), timeout=5)


def refused(channel: grpc.Channel, customer_id: str) -> grpc.StatusCode:
    with channel, pytest.raises(grpc.RpcError) as error:
        snapshot(channel, customer_id)
    return error.value.code()


def test_only_the_member_service_gets_snapshots(system: ViewSystem, tmp_path: Path) -> None:
    customer_id = system.register()
    system.enroll(customer_id, "mtls01")
    address = f"127.0.0.1:{system.internal_port}"
    tls_dir = system.view_service.env["SERVICE_TLS_DIR"]
    name = [("grpc.ssl_target_name_override", MY_ACCOUNTS)]

    # the member service's identity: answered
    with service_identity.channel(address, tls_dir, "member") as channel:
        snapshot(channel, customer_id)

    # no TLS at all
    assert refused(grpc.insecure_channel(address), customer_id) == grpc.StatusCode.UNAVAILABLE
    # TLS that trusts the server, but no client certificate
    ca = (Path(tls_dir) / "ca.crt").read_bytes()
    anonymous = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=ca), options=name)
    assert refused(anonymous, customer_id) == grpc.StatusCode.UNAVAILABLE
    # a certificate saying "member", signed by another CA
    forged = load_or_create(tmp_path / "other-ca", "member")
    ca, cert, key = forged.read()
    impostor = grpc.ssl_channel_credentials(
        root_certificates=(Path(tls_dir) / "ca.crt").read_bytes(), private_key=key, certificate_chain=cert
    )
    assert refused(grpc.secure_channel(address, impostor, options=name), customer_id) == grpc.StatusCode.UNAVAILABLE
    # the right CA, another service's identity
    other = service_identity.channel(address, tls_dir, "account")
    assert refused(other, customer_id) == grpc.StatusCode.PERMISSION_DENIED

    # the member service's login still gets its snapshot over mutual TLS (FRESH or STALE: the view answered,
    # whether it has caught up yet; UNAVAILABLE would mean the call failed)
    login = system.login("mtls01")
    answered = (member_pb2.ACCOUNTS_SNAPSHOT_STATE_FRESH, member_pb2.ACCOUNTS_SNAPSHOT_STATE_STALE)
    assert login.accounts_state in answered, member_pb2.AccountsSnapshotState.Name(login.accounts_state)


def test_the_view_admin_is_the_operators_only(system: ViewSystem) -> None:
    address = f"127.0.0.1:{system.internal_port}"
    tls_dir = system.view_service.env["SERVICE_TLS_DIR"]
    request = msgs.ListViewedAccountsRequest(page_size=10)
    with service_identity.channel(address, tls_dir, "member") as channel:
        stub = my_accounts_service_pb2_grpc.ViewAdminServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.ListViewedAccounts(request, timeout=5)
        assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
