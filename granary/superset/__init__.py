"""Superset for the banks: the service (start/stop), per-bank provisioning, asset templates."""
