"""The my_accounts service: `python -m services.my_accounts [serve|projector]`."""
