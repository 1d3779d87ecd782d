"""What every room stands on: settings, paths, tenants, errors, secrets, processes, the admin's PostgreSQL."""
