-- Each resident's newest personal credit report (profile_external__daily's ordering).

{{ config(tags=['lake_history']) }}

{{ external_known('ext_credit_report', ['id_number_token'], 'report_date desc, dt desc, provider, record_id') }}
