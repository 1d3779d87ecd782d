-- Customers per day, segment and member: counted once, at their home branch, manager and village,
-- so the members of every grain add up to the bank.

with

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

loan as (
    select * from {{ dwd_source('loan') }}
),

-- per customer and day: a loan disbursed that day, and the first disbursement of the loans on the books
borrowing_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        max(case when cast(start_date as date) = cast(dt as date) then 1 else 0 end) as has_new_loan,
        min(cast(start_date as date)) as first_loan_date
    from loan
    group by cast(dt as date), customer_id
),

customer_detail as (
    select
        -- keys
        customer_daily.dt,
        customer_daily.customer_id,
        customer_daily.branch_id,
        customer_daily.manager_id,
        customer_daily.village_code,

        -- what modifiers filter on
        customer_daily.customer_type,
        customer_daily.age,

        -- facts
        cast(customer_daily.open_date as date) as open_date,
        customer_daily.loan_balance,
        customer_daily.deposit_balance,
        coalesce(borrowing.has_new_loan, 0) as has_new_loan,
        borrowing.first_loan_date
    from customer_daily
    left join borrowing_by_customer as borrowing
        on borrowing.customer_id = customer_daily.customer_id and borrowing.dt = customer_daily.dt
),

customer_segments as (
    {{ segment_rows('customer_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- customers (stock)
        count(*) as customers,
        count(case when loan_balance > 0 then 1 end) as loan_customers,
        count(case when deposit_balance > 0 then 1 end) as deposit_customers,

        -- on the day (flow)
        count(case when open_date = dt then 1 end) as new_customers,
        count(case when has_new_loan = 1 then 1 end) as new_borrowers,
        count(case when first_loan_date = dt then 1 end) as first_time_borrowers
    from customer_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
