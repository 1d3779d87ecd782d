-- Deposit accounts per day, segment and member: opening branch, the customer's manager and village.

with

deposit_account as (
    select * from {{ dwd_source('deposit_account') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

deposit_detail as (
    select
        -- keys
        cast(account.dt as date) as dt,
        account.customer_id,
        account.branch_id,
        customer.manager_id,
        customer.village_code,

        -- what modifiers filter on
        account.product_code,
        customer.customer_type,

        -- numerics
        account.status,
        account.balance,
        cast(account.open_date as date) as open_date
    from deposit_account as account
    left join customer
        on customer.customer_id = account.customer_id and customer.dt = account.dt
),

deposit_segments as (
    {{ segment_rows('deposit_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- balances and accounts (stock)
        sum(balance) as deposit_balance,
        count(case when status <> 'closed' then 1 end) as deposit_account_count,

        -- accounts opened on the day (flow)
        count(case when open_date = dt then 1 end) as new_deposit_account_count,
        sum(case when open_date = dt then balance else 0 end) as new_account_balance
    from deposit_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
