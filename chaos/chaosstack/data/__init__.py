"""chaosstack.data."""
