"""chaosstack.service."""
