"""chaosstack.controls."""
