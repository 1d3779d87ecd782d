-- Each legal representative's newest enterprise tax record.

{{ config(tags=['lake_history']) }}

{{ external_known('ext_enterprise_tax', ['legal_rep_id_number_token'], 'tax_year desc, dt desc, declared_revenue desc, record_id') }}
