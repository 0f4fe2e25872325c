"""Canary analysis: parse the edge's access log, summarise windows per track, judge canary vs stable.

Pure Python (no numpy/scipy), no I/O of its own: the log bytes come from a caller-supplied function.
"""
