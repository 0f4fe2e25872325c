"""Feature flags as data: flagd-format definitions, validated, diffed and delivered to every replica.

``definition``  parse and validate a definition set (schema subset + semantic checks)
``change``      the operations behind ``pipeline flags set|rollout|kill|apply``, and the diff
``delivery``    the ``FlagDelivery`` protocol and its local implementation (a shared directory)
``probe``       ask every app task which flags it serves (a container on the overlay network)
``service``     read, change, validate, deliver, journal: what the CLI calls
"""
