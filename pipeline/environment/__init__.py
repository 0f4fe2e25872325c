"""Environments as data: ``environments/<name>/env.yaml`` loaded into one typed model."""

from pipeline.environment.load import load_environment, load_file
from pipeline.environment.model import Environment

__all__ = ["Environment", "load_environment", "load_file"]
