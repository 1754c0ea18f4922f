"""What every composition root shares: settings from the environment and the process roles."""
