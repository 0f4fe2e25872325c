"""Faults on whole nodes of a cluster (the swarm kind): an edge replica, a node, a drain, a partition, an engine."""
