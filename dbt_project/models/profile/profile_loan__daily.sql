-- Each customer's loans, repayments and credit lines per day: product and guarantee mix, maturities,
-- the current installment's repayment behaviour, and the credit lines in force.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

loan as (
    select * from {{ dwd_source('loan') }} as loan
),

repayment as (
    select * from {{ dwd_source('repayment') }} as repayment
),

credit_line as (
    select * from {{ dwd_source('credit_line') }} as credit_line
),

loans_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        -- every loan on the books, settled ones included (borrowing history)
        count(*) as loan_record_count,
        count(case when balance = 0 then 1 end) as settled_loan_count,
        min(start_date) as first_loan_start_date,
        -- outstanding loans by product and guarantee
        count(case when balance > 0 and product_code = 'agricultural' then 1 end) as agri_product_loan_count,
        count(case when balance > 0 and product_code = 'business' then 1 end) as business_loan_count,
        count(case when balance > 0 and product_code = 'consumer' then 1 end) as consumer_loan_count,
        count(case when balance > 0 and product_code = 'housing' then 1 end) as housing_loan_count,
        count(case when balance > 0 and guarantee_type = 'credit' then 1 end) as credit_guarantee_loan_count,
        count(case when balance > 0 and guarantee_type = 'guaranteed' then 1 end) as guaranteed_loan_count,
        count(case when balance > 0 and guarantee_type in ('mortgage', 'pledge') then 1 end) as secured_loan_count,
        cast(sum(case when balance > 0 then contract_amount else 0 end) as decimal(20, 2)) as loan_contract_amount,
        cast(
            sum(case when five_class = 'special_mention' then balance else 0 end) as decimal(20, 2)
        ) as special_mention_balance,
        max(case when balance > 0 then interest_rate end) as max_interest_rate,
        -- timing
        count(
            case when start_date > {{ add_days('cast(dt as date)', -30) }} then 1 end
        ) as new_loan_count_30d,
        count(
            case
                when balance > 0
                    and maturity_date >= cast(dt as date)
                    and maturity_date <= {{ add_days('cast(dt as date)', 90) }}
                then 1
            end
        ) as maturing_loan_count_90d,
        count(case when balance > 0 and maturity_date < cast(dt as date) then 1 end) as past_maturity_loan_count
    from loan
    group by cast(dt as date), customer_id
),

-- the current installment of each loan (repayment is a snapshot: the latest one due by the day)
repayments_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(*) as installment_count,
        count(case when overdue_flag then 1 end) as overdue_installment_count,
        count(case when paid_date is not null and paid_date < due_date then 1 end) as early_paid_installment_count,
        count(case when paid_date is not null and paid_date <= due_date then 1 end) as on_time_installment_count,
        count(case when paid_date > due_date then 1 end) as late_paid_installment_count,
        cast(
            sum(scheduled_principal + scheduled_interest - paid_principal - paid_interest) as decimal(20, 2)
        ) as unpaid_installment_amount
    from repayment
    group by cast(dt as date), customer_id
),

credit_lines_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(case when status = 'active' then 1 end) as active_credit_line_count,
        count(case when status = 'frozen' then 1 end) as frozen_credit_line_count,
        count(case when line_type = 'village_credit' then 1 end) as village_credit_line_count,
        count(case when line_type = 'revolving' and status = 'active' then 1 end) as revolving_line_count,
        cast(sum(case when status = 'active' then line_amount else 0 end) as decimal(20, 2)) as credit_line_amount,
        cast(sum(case when status = 'active' then used_amount else 0 end) as decimal(20, 2)) as credit_line_used,
        count(
            case
                when status = 'active'
                    and end_date >= cast(dt as date)
                    and end_date <= {{ add_days('cast(dt as date)', 90) }}
                then 1
            end
        ) as expiring_line_count_90d
    from credit_line
    group by cast(dt as date), customer_id
),

-- one row per customer and day, borrower or not
keys as (
    select cast(dt as date) as dt, customer_id
    from customer
),

final as (
    select
        keys.dt,
        keys.customer_id,
        coalesce(l.loan_record_count, 0) as loan_record_count,
        coalesce(l.settled_loan_count, 0) as settled_loan_count,
        l.first_loan_start_date,
        coalesce(l.agri_product_loan_count, 0) as agri_product_loan_count,
        coalesce(l.business_loan_count, 0) as business_loan_count,
        coalesce(l.consumer_loan_count, 0) as consumer_loan_count,
        coalesce(l.housing_loan_count, 0) as housing_loan_count,
        coalesce(l.credit_guarantee_loan_count, 0) as credit_guarantee_loan_count,
        coalesce(l.guaranteed_loan_count, 0) as guaranteed_loan_count,
        coalesce(l.secured_loan_count, 0) as secured_loan_count,
        cast(coalesce(l.loan_contract_amount, 0) as decimal(20, 2)) as loan_contract_amount,
        cast(coalesce(l.special_mention_balance, 0) as decimal(20, 2)) as special_mention_balance,
        l.max_interest_rate,
        coalesce(l.new_loan_count_30d, 0) as new_loan_count_30d,
        coalesce(l.maturing_loan_count_90d, 0) as maturing_loan_count_90d,
        coalesce(l.past_maturity_loan_count, 0) as past_maturity_loan_count,
        coalesce(r.installment_count, 0) as installment_count,
        coalesce(r.overdue_installment_count, 0) as overdue_installment_count,
        coalesce(r.early_paid_installment_count, 0) as early_paid_installment_count,
        coalesce(r.on_time_installment_count, 0) as on_time_installment_count,
        coalesce(r.late_paid_installment_count, 0) as late_paid_installment_count,
        cast(coalesce(r.unpaid_installment_amount, 0) as decimal(20, 2)) as unpaid_installment_amount,
        coalesce(c.active_credit_line_count, 0) as active_credit_line_count,
        coalesce(c.frozen_credit_line_count, 0) as frozen_credit_line_count,
        coalesce(c.village_credit_line_count, 0) as village_credit_line_count,
        coalesce(c.revolving_line_count, 0) as revolving_line_count,
        cast(coalesce(c.credit_line_amount, 0) as decimal(20, 2)) as credit_line_amount,
        cast(coalesce(c.credit_line_used, 0) as decimal(20, 2)) as credit_line_used,
        coalesce(c.expiring_line_count_90d, 0) as expiring_line_count_90d
    from keys
    left join loans_by_customer as l on l.dt = keys.dt and l.customer_id = keys.customer_id
    left join repayments_by_customer as r on r.dt = keys.dt and r.customer_id = keys.customer_id
    left join credit_lines_by_customer as c on c.dt = keys.dt and c.customer_id = keys.customer_id
)

select * from final
