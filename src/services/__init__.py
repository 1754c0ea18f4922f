"""Composition roots: one package per service, wiring only."""
