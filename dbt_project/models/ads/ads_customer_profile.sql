-- The 360-degree customer profile for the business date: one wide row per customer with every column
-- of dws_customer__daily (masked identity only: the DWD tokens never reach it) and the tag count.

with

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

customer_tag as (
    select * from {{ ref('ads_customer_tag') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

tags_per_customer as (
    select customer_id, count(*) as tag_count
    from customer_tag
    group by customer_id
),

final as (
    select
        -- ids
        customer_daily.dt,
        customer_daily.customer_id,

        -- attributes
        customer_daily.customer_type,
        customer_daily.branch_id,
        customer_daily.manager_id,
        customer_daily.village_code,
        customer_daily.name_masked,
        customer_daily.id_masked,
        customer_daily.phone_masked,
        customer_daily.age,

        -- balances and risk
        customer_daily.deposit_balance,
        customer_daily.loan_balance,
        customer_daily.overdue_days_max,
        customer_daily.worst_five_class,

        -- tags
        coalesce(tags_per_customer.tag_count, 0) as tag_count,

        -- the rest of the profile: attributes, deposits, loans, repayments, credit lines, channels,
        -- transactions, household, external data
        customer_daily.gender,
        customer_daily.open_date,
        customer_daily.tenure_days,
        customer_daily.deposit_account_count,
        customer_daily.loan_count,
        customer_daily.npl_balance,
        customer_daily.overdue_balance,
        customer_daily.has_agri_loan,
        customer_daily.borrower_tenure_days,
        customer_daily.credit_line_usage_ratio,
        customer_daily.net_position
        {{- profile_columns('profile_deposit__daily', 'customer_daily') }}
        {{- profile_columns('profile_loan__daily', 'customer_daily') }}
        {{- profile_columns('profile_channel__daily', 'customer_daily') }}
        {{- profile_columns('profile_household__daily', 'customer_daily') }}
        {{- profile_columns('profile_external__daily', 'customer_daily') }}
    from customer_daily
    inner join run_date on customer_daily.dt = run_date.run_dt
    left join tags_per_customer on tags_per_customer.customer_id = customer_daily.customer_id
)

select * from final
