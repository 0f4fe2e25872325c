"""chaosstack.canary."""
