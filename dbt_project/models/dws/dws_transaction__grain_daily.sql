-- Postings per day, segment and member: the branch that booked them, the customer's manager and village.

with

transaction_event as (
    select * from {{ dwd_source('transaction') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

transaction_detail as (
    select
        -- keys
        cast(txn.dt as date) as dt,
        txn.customer_id,
        txn.branch_id,
        customer.manager_id,
        customer.village_code,

        -- what modifiers filter on
        txn.channel,
        txn.purpose,

        -- numerics
        txn.direction,
        txn.amount
    from transaction_event as txn
    left join customer
        on customer.customer_id = txn.customer_id and customer.dt = txn.dt
),

transaction_segments as (
    {{ segment_rows('transaction_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- postings on the day (flow)
        count(*) as txn_count,
        sum(amount) as txn_amount,
        sum(case when direction = 'credit' then amount else 0 end) as inflow_amount,
        sum(case when direction = 'debit' then amount else 0 end) as outflow_amount
    from transaction_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
