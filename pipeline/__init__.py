"""Reproducible deployment pipeline and chaos-testing harness for web apps."""

__version__ = "0.1.0"
