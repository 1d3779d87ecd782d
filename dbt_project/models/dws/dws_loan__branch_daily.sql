-- One row per branch, day and segment ('ALL', or a loan modifier from the indicator catalog).

with

loan as (
    select * from {{ dwd_source('loan') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

loan_detail as (
    select
        cast(loan.dt as date) as dt,
        loan.loan_id,
        loan.branch_id,
        loan.product_code,
        loan.guarantee_type,
        loan.is_agricultural,
        loan.contract_amount,
        loan.balance,
        loan.overdue_days,
        loan.five_class,
        loan.start_date,
        customer.customer_type
    from loan
    left join customer
        on customer.customer_id = loan.customer_id and customer.dt = loan.dt
),

loan_segments as (
    {{ segment_rows('loan_detail') }}
),

final as (
    select
        -- grain
        dt,
        branch_id,
        segment,

        -- balances (stock)
        cast(sum(balance) as decimal(20, 2)) as loan_balance,
        count(case when balance > 0 then 1 end) as loan_count,
        cast(sum(case when {{ is_npl('five_class') }} then balance else 0 end) as decimal(20, 2)) as npl_balance,
        cast(sum(case when five_class = 'special_mention' then balance else 0 end) as decimal(20, 2))
            as special_mention_balance,
        cast(sum(case when overdue_days > 0 then balance else 0 end) as decimal(20, 2)) as overdue_balance,

        -- disbursements on the day (flow)
        cast(sum(case when start_date = dt then contract_amount else 0 end) as decimal(20, 2)) as new_loan_amount,
        count(case when start_date = dt then 1 end) as new_loan_count

    from loan_segments
    group by dt, branch_id, segment
)

select * from final
