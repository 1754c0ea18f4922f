"""python -m services.my_accounts [serve|projector]: the gRPC service with its projector, or the projector alone."""

import argparse
import asyncio

from services.my_accounts.bootstrap import project, serve
from services.my_accounts.settings import MyAccountsSettings

parser = argparse.ArgumentParser(prog="python -m services.my_accounts", description=__doc__)
parser.add_argument("role", nargs="?", default="serve", choices=["serve", "projector"])
role = parser.parse_args().role
asyncio.run(serve(MyAccountsSettings.from_env()) if role == "serve" else project(MyAccountsSettings.from_env()))
