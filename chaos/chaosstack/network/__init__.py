"""chaosstack.network."""
