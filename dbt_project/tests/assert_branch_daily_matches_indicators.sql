-- The branch report and the indicator table are two views of one DWS: their loan, NPL and deposit
-- balances for each branch must agree.

with

branch_daily as (
    select * from {{ ref('ads_branch_daily') }}
),

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

branch_indicators as (
    select
        grain_id as branch_id,
        sum(case when indicator_code = 'LOAN_BAL__D__BRANCH' then value end) as loan_balance,
        sum(case when indicator_code = 'NPL_BAL__D__BRANCH' then value end) as npl_balance,
        sum(case when indicator_code = 'DEP_BAL__D__BRANCH' then value end) as deposit_balance
    from indicator_value
    where grain = 'branch'
    group by grain_id
),

final as (
    select branch_daily.branch_id
    from branch_daily
    left join branch_indicators
        on branch_indicators.branch_id = branch_daily.branch_id
    where branch_indicators.branch_id is null
        or abs(cast(branch_daily.loan_balance as double) - branch_indicators.loan_balance) > 0.005
        or abs(cast(branch_daily.npl_balance as double) - branch_indicators.npl_balance) > 0.005
        or abs(cast(branch_daily.deposit_balance as double) - branch_indicators.deposit_balance) > 0.005
)

select * from final
