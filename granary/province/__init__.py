"""The province's own records: the ops tables and marts, and external data's deliveries, ledger and bill.

Eight providers (granary/catalog/providers.yaml) deliver one file per product and day for the whole
province (`landing/_province/<dt>/`, granary.province.deliveries). Each bank's day routes the records
naming its own customers into its landing (granary.pipeline.route) and writes a usage ledger row per
product (granary.province.ledger); a monthly bill per bank is an aggregate over the ledger.
"""
