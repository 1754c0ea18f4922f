"""The operator CLI `bank`: start, stop, inspect and demonstrate the local system (`bank --help`)."""
