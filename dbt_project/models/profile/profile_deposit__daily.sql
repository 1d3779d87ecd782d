-- Each customer's deposit accounts per day: balances by product, account states, accounts opened lately.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

deposit_account as (
    select * from {{ dwd_source('deposit_account') }} as deposit_account
),

deposits_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        -- balances by product (closed accounts hold 0)
        sum(case when product_code = 'demand' then balance else 0 end) as demand_balance,
        sum(case when product_code = 'time' then balance else 0 end) as time_balance,
        -- account states
        count(case when product_code = 'time' and status = 'active' then 1 end) as time_account_count,
        count(case when status = 'frozen' then 1 end) as frozen_account_count,
        count(case when status = 'closed' then 1 end) as closed_account_count,
        -- openings in the last 30 days (marketing response)
        count(
            case when open_date > {{ add_days('cast(dt as date)', -30) }} and status <> 'closed' then 1 end
        ) as new_deposit_account_count_30d
    from deposit_account
    group by cast(dt as date), customer_id
),

final as (
    select
        cast(c.dt as date) as dt,
        c.customer_id,
        cast(coalesce(d.demand_balance, 0) as decimal(20, 2)) as demand_balance,
        cast(coalesce(d.time_balance, 0) as decimal(20, 2)) as time_balance,
        coalesce(d.time_account_count, 0) as time_account_count,
        coalesce(d.frozen_account_count, 0) as frozen_account_count,
        coalesce(d.closed_account_count, 0) as closed_account_count,
        coalesce(d.new_deposit_account_count_30d, 0) as new_deposit_account_count_30d
    from customer as c
    left join deposits_by_customer as d
        on d.customer_id = c.customer_id and d.dt = cast(c.dt as date)
)

select * from final
