"""The baseline of (b): a plain grpc.aio server (the flavour the services run) answering the same RPC,
`MyAccountsService/ListMyAccounts`, with a constant three-account response, and nothing else (no
interceptor, no token check, no read). `python -m bench.hello PORT`; prints "ready" once it listens."""

from __future__ import annotations

import asyncio
import sys

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bank.my_accounts.v1 import my_accounts_pb2, my_accounts_service_pb2, my_accounts_service_pb2_grpc

AS_OF = Timestamp(seconds=1_780_000_000)
RESPONSE = my_accounts_service_pb2.ListMyAccountsResponse(
    accounts=[
        my_accounts_pb2.MyAccount(
            account_number=f"110-000-00000{i}", product_code="SAVINGS", balance=150_000 * i, sequence=2, as_of=AS_OF
        )
        for i in (1, 2, 3)
    ],
    view_as_of=AS_OF,
)


class Hello(my_accounts_service_pb2_grpc.MyAccountsServiceServicer):
    async def ListMyAccounts(self, request, context):  # type: ignore[no-untyped-def]
        return RESPONSE


async def main(port: int) -> None:
    server = grpc.aio.server()
    my_accounts_service_pb2_grpc.add_MyAccountsServiceServicer_to_server(Hello(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
