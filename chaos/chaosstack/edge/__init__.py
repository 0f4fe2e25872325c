"""chaosstack.edge."""
