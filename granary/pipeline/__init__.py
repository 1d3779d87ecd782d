"""A bank's day, step by step: ingest, clean (PII, ID cards), route external data, validate, transform
(dbt); the Spark client and the lake's table format they share."""
