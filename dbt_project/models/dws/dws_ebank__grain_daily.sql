-- E-banking users per day, segment and member (the customer's home branch, manager and village),
-- with the day's logins and transfers.

with

ebank_user as (
    select * from {{ dwd_source('mobile_banking_user') }}
),

ebank_activity as (
    select * from {{ dwd_source('mobile_banking_activity') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

ebank_detail as (
    select
        -- keys
        cast(ebank_user.dt as date) as dt,
        ebank_user.customer_id,
        customer.branch_id,
        customer.manager_id,
        customer.village_code,

        -- what modifiers filter on
        ebank_user.channel,

        -- facts
        ebank_user.status,
        ebank_user.is_activated,
        cast(ebank_user.register_date as date) as register_date,
        cast(ebank_user.activation_date as date) as activation_date,
        coalesce(activity.login_count, 0) as login_count,
        coalesce(activity.transfer_amount, 0) as transfer_amount
    from ebank_user
    left join customer
        on customer.customer_id = ebank_user.customer_id and customer.dt = ebank_user.dt
    left join ebank_activity as activity
        on activity.user_id = ebank_user.user_id and activity.dt = ebank_user.dt
),

ebank_segments as (
    {{ segment_rows('ebank_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- users (stock)
        count(case when status <> 'cancelled' then 1 end) as users,
        count(case when status <> 'cancelled' and is_activated then 1 end) as activated_users,

        -- on the day (flow)
        count(case when register_date = dt then 1 end) as new_users,
        count(case when activation_date = dt then 1 end) as new_activations,
        count(case when login_count > 0 then 1 end) as active_users,
        sum(transfer_amount) as transfer_amount
    from ebank_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
