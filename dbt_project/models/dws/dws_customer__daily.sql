-- One row per customer and day: the customer 360 profile every tag rule reads. Deposits and loans are
-- summed here; the other domains (loan mix, repayments and credit lines, cards and channels, the grid
-- survey household, external data) come from the models in models/profile/, one row per customer-day.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

loan as (
    select * from {{ dwd_source('loan') }} as loan
),

deposit_account as (
    select * from {{ dwd_source('deposit_account') }} as deposit_account
),

outstanding_loans_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(*) as loan_count,
        cast(sum(balance) as decimal(20, 2)) as loan_balance,
        cast(sum(case when {{ is_npl('five_class') }} then balance else 0 end) as decimal(20, 2)) as npl_balance,
        cast(sum(case when overdue_days > 0 then balance else 0 end) as decimal(20, 2)) as overdue_balance,
        max(overdue_days) as overdue_days_max,
        max({{ five_class_rank('five_class') }}) as worst_five_class_rank,
        max(case when is_agricultural then 1 else 0 end) as agri_loan_flag
    from loan
    where balance > 0
    group by cast(dt as date), customer_id
),

deposits_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(case when status <> 'closed' then 1 end) as deposit_account_count,
        cast(sum(balance) as decimal(20, 2)) as deposit_balance
    from deposit_account
    group by cast(dt as date), customer_id
),

profile_deposit as (
    select * from {{ ref('profile_deposit__daily') }}
),

profile_loan as (
    select * from {{ ref('profile_loan__daily') }}
),

profile_channel as (
    select * from {{ ref('profile_channel__daily') }}
),

profile_household as (
    select * from {{ ref('profile_household__daily') }}
),

profile_external as (
    select * from {{ ref('profile_external__daily') }}
),

customer_day as (
    select
        cast(dt as date) as dt,
        customer_id,
        branch_id,
        manager_id,
        village_code,
        customer_type,
        gender,
        birth_date,
        open_date,
        customer_name_masked,
        id_number_masked,
        phone_masked
    from customer
),

final as (
    select
        -- ids
        c.dt,
        c.customer_id,
        c.branch_id,
        c.manager_id,
        c.village_code,

        -- attributes
        c.customer_type,
        c.gender,
        {{ age_in_years('c.birth_date', 'c.dt') }} as age,
        c.open_date,
        {{ days_between('c.open_date', 'c.dt') }} as tenure_days,

        -- masked PII (tokens stay in DWD)
        c.customer_name_masked as name_masked,
        c.id_number_masked as id_masked,
        c.phone_masked,

        -- deposits
        coalesce(d.deposit_account_count, 0) as deposit_account_count,
        cast(coalesce(d.deposit_balance, 0) as decimal(20, 2)) as deposit_balance,

        -- loans (outstanding: balance above zero)
        coalesce(l.loan_count, 0) as loan_count,
        cast(coalesce(l.loan_balance, 0) as decimal(20, 2)) as loan_balance,
        cast(coalesce(l.npl_balance, 0) as decimal(20, 2)) as npl_balance,
        cast(coalesce(l.overdue_balance, 0) as decimal(20, 2)) as overdue_balance,
        coalesce(l.overdue_days_max, 0) as overdue_days_max,
        {{ five_class_from_rank('l.worst_five_class_rank') }} as worst_five_class,
        coalesce(l.agri_loan_flag, 0) = 1 as has_agri_loan,

        -- derived across domains; then every column but the keys of each profile domain
        {{ days_between('pl.first_loan_start_date', 'c.dt') }} as borrower_tenure_days,
        cast(case when pl.credit_line_amount > 0 then pl.credit_line_used / pl.credit_line_amount end as double)
            as credit_line_usage_ratio,
        cast(coalesce(d.deposit_balance, 0) - coalesce(l.loan_balance, 0) as decimal(20, 2)) as net_position
        {{- profile_columns('profile_deposit__daily', 'pd') }}
        {{- profile_columns('profile_loan__daily', 'pl') }}
        {{- profile_columns('profile_channel__daily', 'pc') }}
        {{- profile_columns('profile_household__daily', 'ph') }}
        {{- profile_columns('profile_external__daily', 'pe') }}

    from customer_day as c
    left join deposits_by_customer as d
        on d.customer_id = c.customer_id and d.dt = c.dt
    left join outstanding_loans_by_customer as l
        on l.customer_id = c.customer_id and l.dt = c.dt
    left join profile_deposit as pd
        on pd.customer_id = c.customer_id and pd.dt = c.dt
    left join profile_loan as pl
        on pl.customer_id = c.customer_id and pl.dt = c.dt
    left join profile_channel as pc
        on pc.customer_id = c.customer_id and pc.dt = c.dt
    left join profile_household as ph
        on ph.customer_id = c.customer_id and ph.dt = c.dt
    left join profile_external as pe
        on pe.customer_id = c.customer_id and pe.dt = c.dt
)

select * from final
