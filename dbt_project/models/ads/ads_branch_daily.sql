-- One row per branch for the business date: customers, loans, NPLs, deposits and the NPL ratio.

with

loan_branch as (
    select * from {{ ref('dws_loan__branch_daily') }}
),

deposit_branch as (
    select * from {{ ref('dws_deposit__branch_daily') }}
),

customer_branch as (
    select * from {{ ref('dws_customer__branch_daily') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

loans_on_run_date as (
    select loan_branch.branch_id, loan_branch.loan_balance, loan_branch.npl_balance
    from loan_branch
    inner join run_date on loan_branch.dt = run_date.run_dt
    where loan_branch.segment = 'ALL'
),

deposits_on_run_date as (
    select deposit_branch.branch_id, deposit_branch.deposit_balance
    from deposit_branch
    inner join run_date on deposit_branch.dt = run_date.run_dt
    where deposit_branch.segment = 'ALL'
),

customers_on_run_date as (
    select customer_branch.branch_id, customer_branch.customers
    from customer_branch
    inner join run_date on customer_branch.dt = run_date.run_dt
    where customer_branch.segment = 'ALL'
),

branches as (
    select branch_id from loans_on_run_date
    union
    select branch_id from deposits_on_run_date
    union
    select branch_id from customers_on_run_date
),

final as (
    select
        -- grain
        run_date.run_dt as dt,
        branches.branch_id,

        -- numerics
        coalesce(customers.customers, 0) as customers,
        cast(coalesce(loans.loan_balance, 0) as decimal(20, 2)) as loan_balance,
        cast(coalesce(loans.npl_balance, 0) as decimal(20, 2)) as npl_balance,
        cast(coalesce(deposits.deposit_balance, 0) as decimal(20, 2)) as deposit_balance,
        cast(loans.npl_balance as double) / nullif(cast(loans.loan_balance as double), 0) as npl_ratio
    from branches
    cross join run_date
    left join loans_on_run_date as loans on loans.branch_id = branches.branch_id
    left join deposits_on_run_date as deposits on deposits.branch_id = branches.branch_id
    left join customers_on_run_date as customers on customers.branch_id = branches.branch_id
)

select * from final
