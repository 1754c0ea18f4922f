"""python -m services.member [serve|relay]: the gRPC and REST service with its consumer and outbox relay,
or the relay alone."""

import argparse
import asyncio

from services.member.bootstrap import relay, serve
from services.member.settings import MemberSettings

parser = argparse.ArgumentParser(prog="python -m services.member", description=__doc__)
parser.add_argument("role", nargs="?", default="serve", choices=["serve", "relay"])
role = parser.parse_args().role
asyncio.run(serve(MemberSettings.from_env()) if role == "serve" else relay(MemberSettings.from_env()))
