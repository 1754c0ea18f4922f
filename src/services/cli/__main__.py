"""`python -m services.cli`: the same CLI as the `bank` console script, for when the script is not on PATH."""

from services.cli.main import app

app(prog_name="bank")
