"""The chaos harness: Chaos Toolkit experiments from ``chaos/experiments`` run under k6 load, scored.

``commands`` builds the fault injections as ``Command`` values (the extension in
``chaos/chaosstack`` runs them), ``experiments`` finds and validates experiments,
``results`` reads a Chaos Toolkit journal into a result row and scores a run,
``runner`` runs them against an environment that allows chaos.
"""
