"""Canary releases: the pure controller (``controller``) and its decisions (``decide``)."""
