-- Each loan's latest installment due, per day and member (the borrower's home branch, manager and
-- village): what fell due on the day, what was paid on time, what is flagged overdue.

with

repayment as (
    select * from {{ dwd_source('repayment') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

repayment_detail as (
    select
        -- keys
        cast(installment.dt as date) as dt,
        installment.customer_id,
        customer.branch_id,
        customer.manager_id,
        customer.village_code,

        -- facts
        cast(installment.due_date as date) as due_date,
        cast(installment.paid_date as date) as paid_date,
        installment.scheduled_principal,
        installment.overdue_flag
    from repayment as installment
    left join customer
        on customer.customer_id = installment.customer_id and customer.dt = installment.dt
),

repayment_segments as (
    {{ segment_rows('repayment_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- flagged overdue (stock)
        count(case when overdue_flag then 1 end) as overdue_installments,

        -- falling due on the day (flow)
        count(case when due_date = dt then 1 end) as installments_due,
        count(case when due_date = dt and paid_date <= due_date then 1 end) as installments_paid_on_time,
        sum(case when due_date = dt then scheduled_principal else 0 end) as principal_due
    from repayment_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
