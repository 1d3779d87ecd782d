"""External data, one-point access: province-level provider files routed to banks, metered, billed.

Eight providers (granary/catalog/providers.yaml) deliver one file per product and day for
the whole province (`landing/_province/<dt>/`). Each bank's day routes the records naming
its own customers into its landing (`landing/<bank>/<dt>/ext_<kind>.csv`) — matched by the
bank's PII token, so the router never needs a bank's clear IDs — and writes a usage ledger
row per product (`lake/_province/ledger/dt=<dt>/<bank>.parquet`); a monthly bill per bank
is an aggregate over the ledger.
"""
