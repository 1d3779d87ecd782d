-- Each customer's external data per day, matched on the resident-ID token: the latest record known by
-- the day (records arrive on some days only: models/dws/external keeps the newest received, chained
-- from day to day) of the
-- credit report, enterprise tax, government data (social security, housing fund, property,
-- utilities), telecom and card spending; court cases are counted over every record received.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

ext_credit_report as (
    select * from {{ ref('dws_external__credit_report') }} as ext_credit_report
),

ext_litigation as (
    select * from {{ ref('dws_external__litigation') }} as ext_litigation
),

ext_enterprise_tax as (
    select * from {{ ref('dws_external__enterprise_tax') }} as ext_enterprise_tax
),

ext_government as (
    select * from {{ ref('dws_external__government') }} as ext_government
),

ext_telecom as (
    select * from {{ ref('dws_external__telecom') }} as ext_telecom
),

ext_card_consumption as (
    select * from {{ ref('dws_external__card_consumption') }} as ext_card_consumption
),

customer_days as (
    select cast(dt as date) as dt, customer_id, id_number_token
    from customer
),

credit_report_ranked as (
    select
        c.dt,
        c.customer_id,
        r.loan_accounts,
        r.loan_balance,
        r.card_accounts,
        r.overdue_accounts,
        r.max_overdue_months,
        r.queries_3m,
        row_number() over (
            partition by c.dt, c.customer_id
            order by r.report_date desc, r.dt desc, r.provider, r.record_id
        ) as recency
    from customer_days as c
    inner join ext_credit_report as r
        on r.id_number_token = c.id_number_token and cast(r.dt as date) <= c.dt
),

-- a case re-sent by a provider is counted once (case number)
cases as (
    select distinct
        c.dt,
        c.customer_id,
        l.case_number,
        l.case_type,
        l.party_role,
        l.case_status
    from customer_days as c
    inner join ext_litigation as l
        on l.id_number_token = c.id_number_token and cast(l.dt as date) <= c.dt
),

cases_by_customer as (
    select
        dt,
        customer_id,
        count(*) as court_case_count,
        count(case when party_role in ('被告', '被执行人') then 1 end) as defendant_case_count,
        count(case when party_role = '被执行人' and case_status in ('执行中', '终结本次执行') then 1 end)
            as enforcement_case_count,
        count(case when case_type = '刑事' then 1 end) as criminal_case_count,
        count(case when case_status in ('审理中', '执行中') then 1 end) as open_case_count
    from cases
    group by dt, customer_id
),

tax_ranked as (
    select
        c.dt,
        c.customer_id,
        t.tax_credit_rating,
        t.declared_revenue,
        t.tax_paid,
        t.tax_arrears,
        row_number() over (
            partition by c.dt, c.customer_id
            order by t.tax_year desc, t.dt desc, t.declared_revenue desc, t.record_id
        ) as recency
    from customer_days as c
    inner join ext_enterprise_tax as t
        on t.legal_rep_id_number_token = c.id_number_token and cast(t.dt as date) <= c.dt
),

government_ranked as (
    select
        c.dt,
        c.customer_id,
        g.item,
        g.status,
        g.amount,
        g.months,
        row_number() over (
            partition by c.dt, c.customer_id, g.item
            order by g.period desc, g.dt desc, g.provider, g.record_id
        ) as recency
    from customer_days as c
    inner join ext_government as g
        on g.id_number_token = c.id_number_token and cast(g.dt as date) <= c.dt
),

government_by_customer as (
    select
        dt,
        customer_id,
        max(case when item = '社会保险' then status end) as social_insurance_status,
        max(case when item = '社会保险' then months end) as social_insurance_months,
        max(case when item = '住房公积金' then status end) as housing_fund_status,
        max(case when item = '住房公积金' then months end) as housing_fund_months,
        max(case when item = '住房公积金' then amount end) as housing_fund_amount,
        max(case when item = '不动产' then status end) as property_status,
        max(case when item = '不动产' then amount end) as property_value,
        max(case when item = '水电燃气' then status end) as utility_status
    from government_ranked
    where recency = 1
    group by dt, customer_id
),

telecom_ranked as (
    select
        c.dt,
        c.customer_id,
        t.carrier,
        t.tenure_months,
        t.line_status,
        t.identity_match,
        t.monthly_fee,
        row_number() over (
            partition by c.dt, c.customer_id
            order by t.dt desc, t.tenure_months desc, t.provider, t.record_id
        ) as recency
    from customer_days as c
    inner join ext_telecom as t
        on t.id_number_token = c.id_number_token and cast(t.dt as date) <= c.dt
),

card_spend_ranked as (
    select
        c.dt,
        c.customer_id,
        s.txn_count,
        s.txn_amount,
        s.top_category,
        s.cross_bank_cards,
        row_number() over (
            partition by c.dt, c.customer_id
            order by s.stat_month desc, s.dt desc, s.provider, s.record_id
        ) as recency
    from customer_days as c
    inner join ext_card_consumption as s
        on s.id_number_token = c.id_number_token and cast(s.dt as date) <= c.dt
),

final as (
    select
        c.dt,
        c.customer_id,

        -- personal credit report
        r.customer_id is not null as has_credit_report,
        r.loan_accounts as credit_report_loan_accounts,
        cast(r.loan_balance as decimal(20, 2)) as credit_report_loan_balance,
        r.card_accounts as credit_report_card_accounts,
        r.overdue_accounts as credit_report_overdue_accounts,
        r.max_overdue_months as credit_report_max_overdue_months,
        r.queries_3m as credit_queries_3m,

        -- litigation
        coalesce(k.court_case_count, 0) as court_case_count,
        coalesce(k.defendant_case_count, 0) as defendant_case_count,
        coalesce(k.enforcement_case_count, 0) as enforcement_case_count,
        coalesce(k.criminal_case_count, 0) as criminal_case_count,
        coalesce(k.open_case_count, 0) as open_case_count,

        -- enterprise tax (the customer as legal representative)
        t.customer_id is not null as has_tax_record,
        t.tax_credit_rating,
        cast(t.declared_revenue as decimal(20, 2)) as declared_revenue,
        cast(t.tax_paid as decimal(20, 2)) as tax_paid,
        cast(t.tax_arrears as decimal(20, 2)) as tax_arrears,

        -- government data
        g.social_insurance_status,
        g.social_insurance_months,
        g.housing_fund_status,
        g.housing_fund_months,
        cast(g.housing_fund_amount as decimal(20, 2)) as housing_fund_amount,
        g.property_status,
        cast(g.property_value as decimal(20, 2)) as property_value,
        g.utility_status,

        -- telecom
        m.carrier,
        m.tenure_months as phone_tenure_months,
        m.line_status as phone_line_status,
        m.identity_match as phone_identity_match,
        cast(m.monthly_fee as decimal(12, 2)) as phone_monthly_fee,

        -- bank card spending across banks
        s.txn_count as card_spend_count,
        cast(s.txn_amount as decimal(20, 2)) as card_spend_amount,
        s.top_category as card_spend_top_category,
        s.cross_bank_cards
    from customer_days as c
    left join credit_report_ranked as r
        on r.dt = c.dt and r.customer_id = c.customer_id and r.recency = 1
    left join cases_by_customer as k
        on k.dt = c.dt and k.customer_id = c.customer_id
    left join tax_ranked as t
        on t.dt = c.dt and t.customer_id = c.customer_id and t.recency = 1
    left join government_by_customer as g
        on g.dt = c.dt and g.customer_id = c.customer_id
    left join telecom_ranked as m
        on m.dt = c.dt and m.customer_id = c.customer_id and m.recency = 1
    left join card_spend_ranked as s
        on s.dt = c.dt and s.customer_id = c.customer_id and s.recency = 1
)

select * from final
