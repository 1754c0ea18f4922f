"""Regenerate the Python stubs in src/bank/ from proto/ (delete, then generate; never edited by hand).

python scripts/gen_protos.py          # regenerate
python scripts/gen_protos.py --check  # regenerate, then fail if src/bank differs from what git has
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GOOGLEAPIS = ROOT / "third_party" / "googleapis"
OUT = ROOT / "src" / "bank"
# protoc's own include folder (google/protobuf/*.proto) ships inside grpcio-tools.
WELL_KNOWN = Path(protoc.__file__).parent / "_proto"


def generate() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{GOOGLEAPIS}",
        f"-I{WELL_KNOWN}",
        f"--python_out={OUT.parent}",
        f"--pyi_out={OUT.parent}",
        f"--grpc_python_out={OUT.parent}",
        *files,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    # Regular packages (not namespace packages) so setuptools and import-linter see them.
    for folder in [OUT, *(p for p in OUT.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    (OUT / "py.typed").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    generate()
    if parser.parse_args().check:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", str(OUT)], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        if status:
            sys.exit(f"src/bank is stale; run `python scripts/gen_protos.py` and commit:\n{status}")


if __name__ == "__main__":
    main()
