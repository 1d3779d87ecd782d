-- Each resident's newest government record of each item (social security, housing fund, property, utilities).

{{ config(tags=['lake_history']) }}

{{ external_known('ext_government', ['id_number_token', 'item'], 'period desc, dt desc, provider, record_id') }}
