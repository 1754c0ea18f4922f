"""Calling an internal (mutual TLS) port from a test as one service identity: the certificates of the run's
local CA (SERVICE_TLS_DIR, adapters/outbound/security/service_tls.py), made on first use as the services do."""

from __future__ import annotations

from pathlib import Path

import grpc

from adapters.outbound.security.service_tls import MY_ACCOUNTS, load_or_create


def channel(address: str, tls_dir: str | Path, identity: str, **options: object) -> grpc.Channel:
    """A blocking channel to `address` presenting `identity`'s certificate, expecting my_accounts' one."""
    credentials = load_or_create(Path(tls_dir), identity).channel_credentials()
    return grpc.secure_channel(
        address, credentials, options=[("grpc.ssl_target_name_override", MY_ACCOUNTS), *options.items()]
    )
