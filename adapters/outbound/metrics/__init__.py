"""Metrics drawn from what the domain already reports (its committed events), never from inside it."""
