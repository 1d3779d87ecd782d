-- Each customer's channels per day: bank cards, mobile/online banking sign-up and use, and the
-- deposit transactions of the last 30 days (the lake days in (dt - 30, dt]) by channel and purpose.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

bank_card as (
    select * from {{ dwd_source('bank_card') }} as bank_card
),

mobile_banking_user as (
    select * from {{ dwd_source('mobile_banking_user', days_before=29) }} as mobile_banking_user
),

mobile_banking_activity as (
    select * from {{ dwd_source('mobile_banking_activity', days_before=29) }} as mobile_banking_activity
),

account_transaction as (
    select * from {{ dwd_source('transaction', days_before=29) }} as account_transaction
),

customer_days as (
    select distinct cast(dt as date) as dt, customer_id
    from customer
),

cards_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(case when card_type = 'debit' and status = 'normal' then 1 end) as debit_card_count,
        count(case when card_type = 'social_security' and status = 'normal' then 1 end) as social_security_card_count,
        count(case when status in ('reported_lost', 'frozen') then 1 end) as blocked_card_count,
        count(case when issue_date > {{ add_days('cast(dt as date)', -30) }} then 1 end) as new_card_count_30d
    from bank_card
    group by cast(dt as date), customer_id
),

ebank_by_customer as (
    select
        cast(dt as date) as dt,
        customer_id,
        count(case when channel = 'mobile_banking' and status = 'normal' then 1 end) as mobile_banking_user_count,
        count(case when channel = 'online_banking' and status = 'normal' then 1 end) as online_banking_user_count,
        count(case when is_activated and status = 'normal' then 1 end) as activated_ebank_count,
        count(case when not is_activated and status = 'normal' then 1 end) as inactive_ebank_count,
        count(case when status = 'cancelled' then 1 end) as cancelled_ebank_count,
        -- activated within 7 days of signing up: responded to the sign-up
        count(
            case when is_activated and activation_date <= {{ add_days('register_date', 7) }} then 1 end
        ) as quick_activation_count,
        count(case when register_date > {{ add_days('cast(dt as date)', -90) }} then 1 end) as new_ebank_count_90d
    from mobile_banking_user
    group by cast(dt as date), customer_id
),

-- activity rows carry the user id only: the user snapshot of the same day names the customer
activity_by_customer_day as (
    select
        cast(a.dt as date) as activity_dt,
        u.customer_id,
        cast(sum(a.login_count) as {{ dbt.type_bigint() }}) as login_count,
        cast(sum(a.transfer_count) as {{ dbt.type_bigint() }}) as transfer_count,
        cast(sum(a.payment_count) as {{ dbt.type_bigint() }}) as payment_count
    from mobile_banking_activity as a
    inner join mobile_banking_user as u
        on u.user_id = a.user_id and cast(u.dt as date) = cast(a.dt as date)
    group by cast(a.dt as date), u.customer_id
),

activity_30d as (
    select
        d.dt,
        d.customer_id,
        count(*) as ebank_active_days_30d,
        cast(sum(a.login_count) as {{ dbt.type_bigint() }}) as ebank_login_count_30d,
        cast(sum(a.transfer_count) as {{ dbt.type_bigint() }}) as ebank_transfer_count_30d,
        cast(sum(a.payment_count) as {{ dbt.type_bigint() }}) as ebank_payment_count_30d
    from customer_days as d
    inner join activity_by_customer_day as a
        on a.customer_id = d.customer_id
        and a.activity_dt > {{ add_days('d.dt', -30) }}
        and a.activity_dt <= d.dt
    group by d.dt, d.customer_id
),

transactions_by_customer_day as (
    select
        cast(dt as date) as txn_dt,
        customer_id,
        count(*) as txn_count,
        sum(amount) as txn_amount,
        count(case when channel = 'counter' then 1 end) as counter_txn_count,
        count(case when channel = 'atm' then 1 end) as atm_txn_count,
        count(case when channel = 'pos' then 1 end) as pos_txn_count,
        count(case when channel in ('mobile', 'online') then 1 end) as ebank_txn_count,
        count(case when channel = 'agent_point' then 1 end) as agent_point_txn_count,
        sum(case when direction = 'credit' then amount else 0 end) as inflow_amount,
        sum(case when direction = 'debit' then amount else 0 end) as outflow_amount,
        count(case when purpose = 'salary' then 1 end) as salary_txn_count,
        count(case when purpose = 'agri_subsidy' then 1 end) as agri_subsidy_txn_count,
        count(case when purpose = 'cash_withdrawal' then 1 end) as cash_withdrawal_count,
        count(case when purpose = 'purchase' then 1 end) as purchase_count,
        count(case when purpose = 'bill_payment' then 1 end) as bill_payment_count,
        count(case when amount >= 50000 then 1 end) as large_txn_count
    from account_transaction
    group by cast(dt as date), customer_id
),

transactions_30d as (
    select
        d.dt,
        d.customer_id,
        count(*) as txn_active_days_30d,
        cast(sum(t.txn_count) as {{ dbt.type_bigint() }}) as txn_count_30d,
        cast(sum(t.txn_amount) as decimal(20, 2)) as txn_amount_30d,
        cast(sum(t.counter_txn_count) as {{ dbt.type_bigint() }}) as counter_txn_count_30d,
        cast(sum(t.atm_txn_count) as {{ dbt.type_bigint() }}) as atm_txn_count_30d,
        cast(sum(t.pos_txn_count) as {{ dbt.type_bigint() }}) as pos_txn_count_30d,
        cast(sum(t.ebank_txn_count) as {{ dbt.type_bigint() }}) as ebank_txn_count_30d,
        cast(sum(t.agent_point_txn_count) as {{ dbt.type_bigint() }}) as agent_point_txn_count_30d,
        cast(sum(t.inflow_amount) as decimal(20, 2)) as inflow_amount_30d,
        cast(sum(t.outflow_amount) as decimal(20, 2)) as outflow_amount_30d,
        cast(sum(t.salary_txn_count) as {{ dbt.type_bigint() }}) as salary_txn_count_30d,
        cast(sum(t.agri_subsidy_txn_count) as {{ dbt.type_bigint() }}) as agri_subsidy_txn_count_30d,
        cast(sum(t.cash_withdrawal_count) as {{ dbt.type_bigint() }}) as cash_withdrawal_count_30d,
        cast(sum(t.purchase_count) as {{ dbt.type_bigint() }}) as purchase_count_30d,
        cast(sum(t.bill_payment_count) as {{ dbt.type_bigint() }}) as bill_payment_count_30d,
        cast(sum(t.large_txn_count) as {{ dbt.type_bigint() }}) as large_txn_count_30d
    from customer_days as d
    inner join transactions_by_customer_day as t
        on t.customer_id = d.customer_id
        and t.txn_dt > {{ add_days('d.dt', -30) }}
        and t.txn_dt <= d.dt
    group by d.dt, d.customer_id
),

final as (
    select
        d.dt,
        d.customer_id,

        -- cards
        coalesce(c.debit_card_count, 0) as debit_card_count,
        coalesce(c.social_security_card_count, 0) as social_security_card_count,
        coalesce(c.blocked_card_count, 0) as blocked_card_count,
        coalesce(c.new_card_count_30d, 0) as new_card_count_30d,

        -- mobile and online banking
        coalesce(e.mobile_banking_user_count, 0) > 0 as is_mobile_banking_user,
        coalesce(e.online_banking_user_count, 0) > 0 as is_online_banking_user,
        coalesce(e.activated_ebank_count, 0) > 0 as is_ebank_activated,
        coalesce(e.inactive_ebank_count, 0) > 0 as has_inactive_ebank,
        coalesce(e.cancelled_ebank_count, 0) > 0 as has_cancelled_ebank,
        coalesce(e.quick_activation_count, 0) > 0 as has_quick_activation,
        coalesce(e.new_ebank_count_90d, 0) as new_ebank_count_90d,
        coalesce(a.ebank_active_days_30d, 0) as ebank_active_days_30d,
        coalesce(a.ebank_login_count_30d, 0) as ebank_login_count_30d,
        coalesce(a.ebank_transfer_count_30d, 0) as ebank_transfer_count_30d,
        coalesce(a.ebank_payment_count_30d, 0) as ebank_payment_count_30d,

        -- deposit transactions, last 30 days
        coalesce(t.txn_active_days_30d, 0) as txn_active_days_30d,
        coalesce(t.txn_count_30d, 0) as txn_count_30d,
        cast(coalesce(t.txn_amount_30d, 0) as decimal(20, 2)) as txn_amount_30d,
        coalesce(t.counter_txn_count_30d, 0) as counter_txn_count_30d,
        coalesce(t.atm_txn_count_30d, 0) as atm_txn_count_30d,
        coalesce(t.pos_txn_count_30d, 0) as pos_txn_count_30d,
        coalesce(t.ebank_txn_count_30d, 0) as ebank_txn_count_30d,
        coalesce(t.agent_point_txn_count_30d, 0) as agent_point_txn_count_30d,
        cast(coalesce(t.inflow_amount_30d, 0) as decimal(20, 2)) as inflow_amount_30d,
        cast(coalesce(t.outflow_amount_30d, 0) as decimal(20, 2)) as outflow_amount_30d,
        coalesce(t.salary_txn_count_30d, 0) as salary_txn_count_30d,
        coalesce(t.agri_subsidy_txn_count_30d, 0) as agri_subsidy_txn_count_30d,
        coalesce(t.cash_withdrawal_count_30d, 0) as cash_withdrawal_count_30d,
        coalesce(t.purchase_count_30d, 0) as purchase_count_30d,
        coalesce(t.bill_payment_count_30d, 0) as bill_payment_count_30d,
        coalesce(t.large_txn_count_30d, 0) as large_txn_count_30d
    from customer_days as d
    left join cards_by_customer as c on c.dt = d.dt and c.customer_id = d.customer_id
    left join ebank_by_customer as e on e.dt = d.dt and e.customer_id = d.customer_id
    left join activity_30d as a on a.dt = d.dt and a.customer_id = d.customer_id
    left join transactions_30d as t on t.dt = d.dt and t.customer_id = d.customer_id
)

select * from final
