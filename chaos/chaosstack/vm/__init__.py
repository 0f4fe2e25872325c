"""chaosstack.vm: faults and probes on a VM host (target kind vm), over SSH."""
