-- Every composite lies in the range its catalog entry declares (a share in [0, 1], a growth rate above
-- -1, ...), and the branch report's NPL ratio in [0, 1]. Rows returned = failures.

with

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

indicator_catalog as (
    select * from {{ ref('indicator_catalog') }}
),

branch_daily as (
    select * from {{ ref('ads_branch_daily') }}
),

final as (
    select indicator_value.indicator_code as source, indicator_value.grain_id, indicator_value.value
    from indicator_value
    inner join indicator_catalog as catalog
        on catalog.indicator_code = indicator_value.indicator_code
    where catalog.kind = 'composite'
        and (indicator_value.value < catalog.value_min - 1e-12 or indicator_value.value > catalog.value_max + 1e-12)
    union all
    select 'ads_branch_daily' as source, branch_id as grain_id, npl_ratio as value
    from branch_daily
    where npl_ratio < 0 or npl_ratio > 1
)

select * from final
