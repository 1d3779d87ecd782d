-- Loans per day, segment and member: one row per (customer, booking branch, managing officer,
-- borrower's village) and segment ('ALL', or a loan modifier of the indicator catalog).

with

loan as (
    select * from {{ dwd_source('loan') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

loan_detail as (
    select
        -- keys
        cast(loan.dt as date) as dt,
        loan.customer_id,
        loan.branch_id,
        loan.manager_id,
        customer.village_code,

        -- what modifiers filter on
        customer.customer_type,
        loan.product_code,
        loan.guarantee_type,
        loan.is_agricultural,
        {{ days_between('loan.start_date', 'loan.maturity_date') }} as term_days,
        loan.overdue_days,
        loan.five_class,

        -- numerics
        loan.contract_amount,
        loan.balance,
        loan.interest_rate,
        cast(loan.start_date as date) as start_date
    from loan
    left join customer
        on customer.customer_id = loan.customer_id and customer.dt = loan.dt
),

loan_segments as (
    {{ segment_rows('loan_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- balances (stock)
        sum(balance) as loan_balance,
        count(case when balance > 0 then 1 end) as loan_count,
        sum(case when {{ is_npl('five_class') }} then balance else 0 end) as npl_balance,
        count(case when {{ is_npl('five_class') }} and balance > 0 then 1 end) as npl_count,
        sum(case when five_class = 'special_mention' then balance else 0 end) as special_mention_balance,
        sum(case when overdue_days > 0 then balance else 0 end) as overdue_balance,
        count(case when overdue_days > 0 and balance > 0 then 1 end) as overdue_count,
        sum(balance * interest_rate) as rate_weighted_balance,

        -- disbursements on the day (flow)
        sum(case when start_date = dt then contract_amount else 0 end) as new_loan_amount,
        count(case when start_date = dt then 1 end) as new_loan_count
    from loan_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
