-- An NPL ratio is a share of the loan balance: within [0, 1] in the indicators and the branch report.

with

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

branch_daily as (
    select * from {{ ref('ads_branch_daily') }}
),

final as (
    select indicator_code as source, grain_id, value
    from indicator_value
    -- NPL_RATIO__*, AGRI_NPL_RATIO__*
    where indicator_code like '%NPL_RATIO%'
        and (value < 0 or value > 1)
    union all
    select 'ads_branch_daily' as source, branch_id as grain_id, npl_ratio as value
    from branch_daily
    where npl_ratio < 0 or npl_ratio > 1
)

select * from final
