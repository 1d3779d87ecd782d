-- Credit lines in force per day, segment and member: the granting branch, the customer's manager
-- and village. Frozen lines are on file but not in force, so they count nowhere here.

with

credit_line as (
    select * from {{ dwd_source('credit_line') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

credit_line_detail as (
    select
        -- keys
        cast(line.dt as date) as dt,
        line.customer_id,
        line.branch_id,
        customer.manager_id,
        customer.village_code,

        -- what modifiers filter on
        line.line_type,

        -- numerics
        line.line_amount,
        line.used_amount,
        cast(line.start_date as date) as start_date
    from credit_line as line
    left join customer
        on customer.customer_id = line.customer_id and customer.dt = line.dt
    where line.status = 'active'
),

credit_line_segments as (
    {{ segment_rows('credit_line_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- lines in force (stock)
        sum(line_amount) as line_amount,
        sum(used_amount) as used_amount,
        count(*) as line_count,

        -- granted on the day (flow)
        sum(case when start_date = dt then line_amount else 0 end) as new_line_amount,
        count(case when start_date = dt then 1 end) as new_line_count
    from credit_line_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
