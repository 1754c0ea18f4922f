"""The shared kernel: the few ideas every context uses (ids, time, events, errors, the unit of work)."""
