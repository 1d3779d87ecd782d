-- Each resident's newest card-spending record.

{{ config(tags=['lake_history']) }}

{{ external_known('ext_card_consumption', ['id_number_token'], 'stat_month desc, dt desc, provider, record_id') }}
