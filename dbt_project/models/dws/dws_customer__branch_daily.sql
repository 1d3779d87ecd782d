-- One row per home branch, day and segment ('ALL', or a customer modifier from the indicator catalog).
-- Customers count at their home branch, so branch counts add up to the bank's.

with

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

customer_segments as (
    {{ segment_rows('customer_daily') }}
),

final as (
    select
        -- grain
        dt,
        branch_id,
        segment,

        -- customers (stock)
        count(*) as customers,
        count(case when loan_balance > 0 then 1 end) as loan_customers,
        count(case when deposit_balance > 0 then 1 end) as deposit_customers,

        -- relationships started on the day (flow)
        count(case when open_date = dt then 1 end) as new_customers

    from customer_segments
    group by dt, branch_id, segment
)

select * from final
