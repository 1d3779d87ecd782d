-- Each court case of each resident once (a case re-sent by a provider is one case), the newest record of it.

{{ config(tags=['lake_history']) }}

{{ external_known('ext_litigation', ['id_number_token', 'case_number', 'case_type', 'party_role', 'case_status'], 'dt desc, record_id') }}
