"""Security adapters of the member service: argon2id password hashing behind a bounded pool, ES256 access
tokens (RFC 9068) with their signing keys and JWKS, the common-password blocklist and per-key throttling.

Each module is imported on its own (the my_accounts service needs only `jwt_verifier`), so this package
re-exports nothing."""
