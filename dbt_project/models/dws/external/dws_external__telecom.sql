-- Each resident's newest telecom record.

{{ config(tags=['lake_history']) }}

{{ external_known('ext_telecom', ['id_number_token'], 'dt desc, tenure_months desc, provider, record_id') }}
