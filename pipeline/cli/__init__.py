"""The ``pipeline`` command line: one module per group of verbs."""
