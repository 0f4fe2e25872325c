"""chaosstack.stress."""
