"""Service-to-service mutual TLS from the environment (adapters/outbound/security/service_tls.py):

- SERVICE_TLS_CA_FILE, SERVICE_TLS_CERT_FILE, SERVICE_TLS_KEY_FILE: the CA, this service's certificate and its
  key (PEM), as the cluster mounts them from Secrets. A path that does not exist stops the start.
- Otherwise (a local run) SERVICE_TLS_DIR, default `$VAR_DIR/keys/service-tls`: the local CA and this service's
  certificate, made there on first use; every service of one run must share the folder (one CA)."""

from __future__ import annotations

from pathlib import Path

from adapters.outbound.security.service_tls import TlsFiles, load_or_create
from services.runtime.settings import env


def service_tls_dir() -> Path:
    return Path(env("SERVICE_TLS_DIR", str(Path(env("VAR_DIR", "var")) / "keys" / "service-tls")))


def service_tls(identity: str) -> TlsFiles:
    """The TLS files of this process, which is service `identity`."""
    explicit = [env(f"SERVICE_TLS_{part}_FILE", "") for part in ("CA", "CERT", "KEY")]
    if any(explicit):
        files = TlsFiles(*(Path(p) for p in explicit))
        for path in (files.ca, files.cert, files.key):
            if not path.is_file():
                raise SystemExit(f"service TLS file {path} does not exist (SERVICE_TLS_CA_FILE/CERT_FILE/KEY_FILE)")
        return files
    return load_or_create(service_tls_dir(), identity)
