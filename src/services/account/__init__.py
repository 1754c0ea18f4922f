"""The account service: `python -m services.account [serve|relay]`."""
