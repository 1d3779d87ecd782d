-- Every catalogued indicator for the business date at every member of its grain.
-- Derived indicators aggregate a DWS measure over their period's window; composites divide their
-- parts. Both are driven by the catalog seeds: no SQL here names an indicator.

with

measure_daily as (
    select * from {{ ref('dws_measure__grain_daily') }}
),

indicator_catalog as (
    select * from {{ ref('indicator_catalog') }}
),

composite_part as (
    select * from {{ ref('indicator_composite_part') }}
),

member_name as (
    select * from {{ ref('ads_grain_member') }}
),

run_date as (
    select
        {{ run_date() }} as run_dt,
        {{ first_day('month', run_date()) }} as month_start,
        {{ first_day('quarter', run_date()) }} as quarter_start,
        {{ first_day('year', run_date()) }} as year_start,
        cast({{ dbt.dateadd('year', -1, run_date()) }} as date) as year_ago
),

-- the days the lake holds: period averages divide by these, not by calendar days
lake_day as (
    select distinct dt from measure_daily
),

-- per derived indicator: the window [window_start, run_dt] it sums or averages over, or the base day
-- it compares with
derived_spec as (
    select
        catalog.indicator_code,
        catalog.grain,
        catalog.fact,
        catalog.measure,
        catalog.segment,
        catalog.agg,
        run_date.run_dt,
        case catalog.window_type
            when 'day' then run_date.run_dt
            when 'month_to_date' then run_date.month_start
            when 'quarter_to_date' then run_date.quarter_start
            when 'year_to_date' then run_date.year_start
            when 'last_n_days' then {{ add_days('run_date.run_dt', '1 - catalog.window_days') }}
            else run_date.run_dt
        end as window_start,
        case catalog.window_type
            when 'change_since_month_start' then {{ add_days('run_date.month_start', '-1') }}
            when 'change_since_year_start' then {{ add_days('run_date.year_start', '-1') }}
            when 'year_start_value' then {{ add_days('run_date.year_start', '-1') }}
            when 'change_year_on_year' then run_date.year_ago
        end as base_dt
    from indicator_catalog as catalog
    cross join run_date
    where catalog.kind = 'derived'
),

-- per indicator: days with data in its window, and whether the run day and base day are there
window_coverage as (
    select
        spec.indicator_code,
        count(distinct case when lake_day.dt between spec.window_start and spec.run_dt then lake_day.dt end)
            as days_with_data,
        max(case when lake_day.dt = spec.run_dt then 1 else 0 end) as has_run_day,
        max(case when lake_day.dt = spec.base_dt then 1 else 0 end) as has_base_day
    from derived_spec as spec
    cross join lake_day
    group by spec.indicator_code
),

-- the members of each grain on the run day: every member any fact has a row for, and the bank
grain_member as (
    select distinct
        measure_daily.grain,
        measure_daily.grain_id
    from measure_daily
    inner join run_date
        on measure_daily.dt = run_date.run_dt
    where measure_daily.grain <> 'bank'
    union all
    select
        'bank' as grain,
        '{{ var("tenant") }}' as grain_id
),

-- one row per indicator and member, so a member without rows for a measure gets zero
derived_grid as (
    select
        spec.*,
        grain_member.grain_id
    from derived_spec as spec
    inner join grain_member
        on grain_member.grain = spec.grain
),

windowed as (
    select
        grid.indicator_code,
        grid.grain_id,
        grid.agg,
        grid.run_dt,
        grid.window_start,
        grid.base_dt,
        daily.dt,
        daily.value
    from derived_grid as grid
    left join measure_daily as daily
        on daily.grain = grid.grain
        and daily.grain_id = grid.grain_id
        and daily.fact = grid.fact
        and daily.measure = grid.measure
        and daily.segment = grid.segment
        and (daily.dt between grid.window_start and grid.run_dt or daily.dt = grid.base_dt)
),

derived_value as (
    select
        windowed.indicator_code,
        windowed.grain_id,
        -- sums and differences stay exact decimals; only the average divides, as a double
        case windowed.agg
            when 'last' then
                cast(coalesce(sum(case when windowed.dt = windowed.run_dt then windowed.value end), 0) as double)
            when 'sum' then
                cast(coalesce(sum(case when windowed.dt >= windowed.window_start then windowed.value end), 0)
                    as double)
            when 'avg' then
                cast(coalesce(sum(case when windowed.dt >= windowed.window_start then windowed.value end), 0)
                    as double)
                / max(coverage.days_with_data)
            when 'change' then
                cast(
                    coalesce(sum(case when windowed.dt = windowed.run_dt then windowed.value end), 0)
                    - coalesce(sum(case when windowed.dt = windowed.base_dt then windowed.value end), 0)
                    as double
                )
            when 'base' then
                cast(coalesce(sum(case when windowed.dt = windowed.base_dt then windowed.value end), 0) as double)
        end as value
    from windowed
    inner join window_coverage as coverage
        on coverage.indicator_code = windowed.indicator_code
    -- no value without the run day's data, nor a comparison without its base day
    where coverage.has_run_day = 1
        and (windowed.base_dt is null or coverage.has_base_day = 1)
    group by windowed.indicator_code, windowed.grain_id, windowed.agg
),

composite_size as (
    select indicator_code, count(*) as parts
    from composite_part
    group by indicator_code
),

-- sum(numerators) / sum(denominators) for the same member; null (undefined) when the denominator is 0
composite_value as (
    select
        part.indicator_code,
        derived.grain_id,
        sum(case when part.role = 'numerator' then derived.value else 0 end)
            / nullif(sum(case when part.role = 'denominator' then derived.value else 0 end), 0) as value
    from composite_part as part
    inner join derived_value as derived
        on derived.indicator_code = part.part_code
    inner join composite_size as size
        on size.indicator_code = part.indicator_code
    group by part.indicator_code, derived.grain_id, size.parts
    having count(*) = size.parts
),

indicator_value as (
    select indicator_code, grain_id, value from derived_value
    union all
    select indicator_code, grain_id, value from composite_value
),

final as (
    select
        -- grain
        run_date.run_dt as dt,
        catalog.grain,
        indicator_value.grain_id,
        indicator_value.indicator_code,

        -- dictionary, for readers who do not join
        catalog.name_zh as indicator_name_zh,
        catalog.theme,
        catalog.unit,

        -- value
        cast(indicator_value.value as double) as value,

        -- the member's name (none for customers: their names are PII)
        named.name_zh as grain_name_zh,

        -- the theme as bank users read it (信贷, not credit)
        catalog.theme_zh
    from indicator_value
    inner join indicator_catalog as catalog
        on catalog.indicator_code = indicator_value.indicator_code
    cross join run_date
    left join member_name as named
        on named.grain = catalog.grain and named.grain_id = indicator_value.grain_id
)

select * from final
