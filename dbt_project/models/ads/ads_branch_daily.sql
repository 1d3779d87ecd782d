-- One row per branch for the business date: customers, loans, NPLs, deposits and the NPL ratio, the
-- branch report the dashboards rank branches by.

with

measure_daily as (
    select * from {{ ref('dws_measure__grain_daily') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

branch_name as (
    select grain_id as branch_id, name_zh
    from {{ ref('ads_grain_member') }}
    where grain = 'branch'
),

branch_measures as (
    select
        measure_daily.grain_id as branch_id,
        sum(case when measure_daily.measure = 'customers' then measure_daily.value else 0 end) as customers,
        sum(case when measure_daily.measure = 'loan_balance' then measure_daily.value else 0 end) as loan_balance,
        sum(case when measure_daily.measure = 'npl_balance' then measure_daily.value else 0 end) as npl_balance,
        sum(case when measure_daily.measure = 'deposit_balance' then measure_daily.value else 0 end)
            as deposit_balance
    from measure_daily
    inner join run_date
        on measure_daily.dt = run_date.run_dt
    where measure_daily.grain = 'branch'
        and measure_daily.segment = 'ALL'
        and measure_daily.measure in ('customers', 'loan_balance', 'npl_balance', 'deposit_balance')
    group by measure_daily.grain_id
),

final as (
    select
        -- grain
        run_date.run_dt as dt,
        branch_measures.branch_id,

        -- numerics
        cast(branch_measures.customers as bigint) as customers,
        cast(branch_measures.loan_balance as decimal(20, 2)) as loan_balance,
        cast(branch_measures.npl_balance as decimal(20, 2)) as npl_balance,
        cast(branch_measures.deposit_balance as decimal(20, 2)) as deposit_balance,
        cast(branch_measures.npl_balance as double) / nullif(cast(branch_measures.loan_balance as double), 0)
            as npl_ratio,

        -- the branch's name
        branch_name.name_zh as branch_name
    from branch_measures
    cross join run_date
    left join branch_name
        on branch_name.branch_id = branch_measures.branch_id
)

select * from final
