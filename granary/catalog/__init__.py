"""The catalogs, data that code expands: source contracts, codes, indicators, tags, external providers."""
