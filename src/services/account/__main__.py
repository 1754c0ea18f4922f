"""python -m services.account [serve|relay]: the gRPC service with its consumer of customer events and its
outbox relay, or the relay alone."""

import argparse
import asyncio

from services.account.bootstrap import relay, serve
from services.account.settings import AccountSettings

parser = argparse.ArgumentParser(prog="python -m services.account", description=__doc__)
parser.add_argument("role", nargs="?", default="serve", choices=["serve", "relay"])
role = parser.parse_args().role
asyncio.run(serve(AccountSettings.from_env()) if role == "serve" else relay(AccountSettings.from_env()))
