"""REST bodies that name a field twice, and look-alikes that do not: refused (or not) the same way by the services'
REST adapter (tests/unit/test_rest_transcoding.py) and by the gateway (tests/gateway/test_gateway.py)."""

from __future__ import annotations

# (id, a Deposit body naming one field twice)
DUPLICATES: list[tuple[str, bytes]] = [
    ("the same key", b'{"amount": "1", "amount": "2", "idempotencyKey": "k"}'),
    ("the last one", b'{"idempotencyKey": "k", "amount": "1", "amount": "2"}'),
    ("an escaped spelling", b'{"amount": "1", "\\u0061mount": "2", "idempotencyKey": "k"}'),
    ("proto and JSON names", b'{"amount": "1", "idempotency_key": "a", "idempotencyKey": "b"}'),
    ("the same value twice", b'{"amount": "2", "amount": "2", "idempotencyKey": "k"}'),
    ("inside an object", b'{"amount": "1", "x": {"y": 1, "y": 2}, "idempotencyKey": "k"}'),
    ("an object in an array", b'{"x": [1, {"y": 1, "y": 2}], "amount": "1"}'),
    ("a surrogate pair", b'{"\\ud83d\\ude00": 1, "\xf0\x9f\x98\x80": 2}'),
]
# (id, a Deposit body that names every field once, though it may look otherwise)
LOOK_ALIKES: list[tuple[str, bytes]] = [
    ("keys inside a string", b'{"amount": "1", "idempotencyKey": "{\\"amount\\": \\"2\\", \\"amount\\": 3}"}'),
    ("escaped quote in a key-like value", b'{"idempotencyKey": "amount\\",\\"amount", "amount": "1"}'),
]
