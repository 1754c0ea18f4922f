"""The member service's one synchronous call: the accounts snapshot from my_accounts at login.

Every call has a deadline. A purgatory circuit breaker counts failures (errors and deadlines); once it is
open, no network call is made until its TTL has passed. Purgatory's half-open state admits every caller,
so a cap beside it lets at most `half_open_limit` probes through at once. Whatever happens, login gets an
answer quickly: UNAVAILABLE accounts, never an error. No retries: the deadline is short and the fallback
is cheap, so a retry would only add load to a struggling service.

The breaker's state is exported as `bank_circuit_breaker_state{circuit="my_accounts"}` from purgatory's own
state-change hook. Purgatory moves from opened to half-opened lazily, at the first call after the TTL: an
idle member service shows `opened` until its next login."""

from __future__ import annotations

import logging

import grpc
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from adapters.common.metrics import set_breaker_state
from adapters.common.protobuf import from_timestamp
from adapters.common.tracing import client_span
from bank.my_accounts.v1 import my_accounts_service_pb2 as pb
from bank.my_accounts.v1 import my_accounts_service_pb2_grpc
from domain.member.ports import AccountsSnapshot, AccountsSnapshotState, AccountSummary

log = logging.getLogger(__name__)
CIRCUIT = "my_accounts"
SNAPSHOT_METHOD = "/bank.my_accounts.v1.AccountsSnapshotService/GetAccountsSnapshot"


def replicas_channel(
    addresses: str, credentials: grpc.ChannelCredentials | None = None, server_name: str = ""
) -> grpc.aio.Channel:
    """A channel balancing calls over every replica, client side (round robin): `10.0.0.5:50064,10.0.0.6:50064`
    is gRPC's static `ipv4:` list; one `host:port` is resolved by DNS to all its addresses (a headless Service
    in Kubernetes); a target with a scheme (`dns:///...`, `ipv4:...`) is taken as it is.
    With `credentials` the channel is mutual TLS (service_tls.TlsFiles.channel_credentials) and the server
    must prove it is `server_name` (its certificate's DNS name), whatever address reached it."""
    target = addresses.strip()
    hosts = [a.strip() for a in target.split(",")]
    if ":" in target.split(",")[0] and "/" not in target and not target.startswith(("ipv4:", "ipv6:", "dns:")):
        target = f"ipv4:{','.join(hosts)}" if len(hosts) > 1 else hosts[0]
    options: list[tuple[str, str]] = [("grpc.lb_policy_name", "round_robin")]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.aio.secure_channel(target, credentials, options=options)


class GrpcAccountsDirectory:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        deadline_seconds: float = 0.5,
        breaker_threshold: int = 5,
        breaker_ttl_seconds: float = 10.0,
        half_open_limit: int = 1,
    ) -> None:
        self._stub = my_accounts_service_pb2_grpc.AccountsSnapshotServiceStub(channel)
        self._deadline = deadline_seconds
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_ttl_seconds
        )
        self._breakers.add_listener(_export_state)
        set_breaker_state(CIRCUIT, "closed")
        self._half_open_limit = half_open_limit
        self._probes = 0
        self.calls = 0  # network calls made, for tests and metrics

    async def state(self) -> str:
        """The breaker's state: closed, opened or half-opened."""
        return (await self._breakers.get_breaker(CIRCUIT)).context.state

    async def snapshot(self, customer_id: str) -> AccountsSnapshot:
        breaker = await self._breakers.get_breaker(CIRCUIT)
        probing = breaker.context.state != "closed"
        if probing and self._probes >= self._half_open_limit:
            return AccountsSnapshot(AccountsSnapshotState.UNAVAILABLE)
        self._probes += probing
        try:
            async with breaker:
                self.calls += 1
                with client_span(SNAPSHOT_METHOD) as trace_headers:
                    response = await self._stub.GetAccountsSnapshot(
                        pb.GetAccountsSnapshotRequest(customer_id=customer_id),
                        timeout=self._deadline,
                        metadata=tuple(trace_headers.items()),
                    )
        except OpenedState as opened:
            opened.with_traceback(None)  # purgatory re-raises one instance: keep its traceback from growing
            return AccountsSnapshot(AccountsSnapshotState.UNAVAILABLE)
        except grpc.aio.AioRpcError as error:
            log.warning("accounts snapshot unavailable: %s", error.code().name)
            return AccountsSnapshot(AccountsSnapshotState.UNAVAILABLE)
        finally:
            self._probes -= probing
        return AccountsSnapshot(
            AccountsSnapshotState.STALE if response.stale else AccountsSnapshotState.FRESH,
            tuple(
                AccountSummary(a.account_number, a.product_code, a.balance, a.sequence, from_timestamp(a.as_of))
                for a in response.accounts
            ),
        )


def _export_state(name: str, event_type: str, event: object) -> None:
    """Purgatory's hook: every state change of a breaker, as it happens."""
    if event_type == "state_changed":
        set_breaker_state(name, str(getattr(event, "state", "")))
