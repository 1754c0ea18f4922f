"""Kafka inbound adapters: the consumer runner and the translators from integration events to commands."""
