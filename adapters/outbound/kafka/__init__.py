"""Kafka outbound adapters: the outbox relay and topic administration."""
