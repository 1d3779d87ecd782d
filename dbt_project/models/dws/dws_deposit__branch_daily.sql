-- One row per branch, day and segment ('ALL', or a deposit modifier from the indicator catalog).

with

deposit_account as (
    select * from {{ dwd_source('deposit_account') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

deposit_detail as (
    select
        cast(deposit_account.dt as date) as dt,
        deposit_account.account_id,
        deposit_account.branch_id,
        deposit_account.product_code,
        deposit_account.status,
        deposit_account.open_date,
        deposit_account.balance,
        customer.customer_type
    from deposit_account
    left join customer
        on customer.customer_id = deposit_account.customer_id and customer.dt = deposit_account.dt
),

deposit_segments as (
    {{ segment_rows('deposit_detail') }}
),

final as (
    select
        -- grain
        dt,
        branch_id,
        segment,

        -- balances and accounts (stock)
        cast(sum(balance) as decimal(20, 2)) as deposit_balance,
        count(case when status <> 'closed' then 1 end) as deposit_account_count,

        -- accounts opened on the day (flow)
        count(case when open_date = dt then 1 end) as new_deposit_account_count

    from deposit_segments
    group by dt, branch_id, segment
)

select * from final
