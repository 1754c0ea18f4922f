"""python -m services.customer [serve|relay]: the gRPC service (with its outbox relay), or the relay alone."""

import argparse
import asyncio

from services.customer.bootstrap import relay, serve, settings

parser = argparse.ArgumentParser(prog="python -m services.customer", description=__doc__)
parser.add_argument("role", nargs="?", default="serve", choices=["serve", "relay"])
role = parser.parse_args().role
asyncio.run(serve(settings()) if role == "serve" else relay(settings()))
