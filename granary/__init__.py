"""Granary: multi-tenant data platform for inclusive finance."""
