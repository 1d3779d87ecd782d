"""Catalogs are data: source contracts, code tables, indicators, tags — YAML expanded by code."""
