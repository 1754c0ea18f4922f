"""The customer service: `python -m services.customer [serve|relay]`."""
