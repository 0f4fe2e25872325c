"""GitHub Actions: the offline checks of ``.github/`` and the small helpers the workflows call."""
