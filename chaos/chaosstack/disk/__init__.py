"""chaosstack.disk."""
