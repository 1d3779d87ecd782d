"""The lake: Iceberg tables in a PostgreSQL catalog, one namespace per bank (granary.lake.tables)."""
