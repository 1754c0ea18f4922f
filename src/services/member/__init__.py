"""The member service: `python -m services.member [serve|relay]`."""
