-- One row per customer and day: the customer's deposits and loans summed, for tags and the profile.

with

customer as (
    select * from {{ dwd_source('customer') }}
),

loan as (
    select * from {{ dwd_source('loan') }}
),

deposit_account as (
    select * from {{ dwd_source('deposit_account') }}
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
        coalesce(l.agri_loan_flag, 0) = 1 as has_agri_loan

    from customer_day as c
    left join deposits_by_customer as d
        on d.customer_id = c.customer_id and d.dt = c.dt
    left join outstanding_loans_by_customer as l
        on l.customer_id = c.customer_id and l.dt = c.dt
)

select * from final
