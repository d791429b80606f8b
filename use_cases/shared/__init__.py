"""What every feature shares: domain errors, sampling settings, the clock."""
