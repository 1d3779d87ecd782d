-- Every catalogued indicator for the business date at every member of its grain.
-- Derived indicators aggregate a DWS measure over their period's window; composites divide their
-- parts. Both are driven by the catalog seeds: no SQL here names an indicator.
-- A window's total is the difference of two running totals of dws_measure__history (the business
-- date's and the last lake day's before the window starts), so a build reads a fixed handful of the
-- lake's days, not the year behind it (macros/periods.sql says which).

{%- set bounds = period_bounds() %}
{%- set history_days = period_history_days(bounds) %}

with

measure_daily as (
    select * from {{ ref('dws_measure__grain_daily') }}
    where dt = {{ run_date() }}
),

measure_history as (
    select dt, grain, grain_id, fact, measure, segment, value, cum_value
    from {{ ref('dws_measure__history') }}
    union all
    select dt, grain, grain_id, fact, measure, segment, value, cum_value
    from {{ lake_history('dws_measure__history', history_days, measure_history_columns(), where=history_days) }} as history
),

-- one row per member and measure: its value and running total on the business date and on each
-- earlier lake day a window needs (value_<n>, cum_<n>: the n-th of those days), so every indicator
-- joins it once, whatever days its window reads
history_by_member as (
    select
        grain,
        grain_id,
        fact,
        measure,
        segment,
        sum(case when dt = {{ run_date() }} then value end) as run_value,
        sum(case when dt = {{ run_date() }} then cum_value end) as run_cum
        {%- for day in history_days %},
        sum(case when dt = {{ date_literal(day) }} then value end) as value_{{ loop.index }},
        sum(case when dt = {{ date_literal(day) }} then cum_value end) as cum_{{ loop.index }}
        {%- endfor %}
    from measure_history
    group by grain, grain_id, fact, measure, segment
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

-- per window of the catalog: the day before it starts, its days with data, its base day
period_bound as (
    {%- for b in bounds %}
    select
        '{{ b.window_type }}' as window_type,
        {{ b.window_days if b.window_days is not none else 'null' }} as window_days,
        {{ date_literal(b.start_before_dt) }} as start_before_dt,
        {{ b.days_with_data }} as days_with_data,
        {{ date_literal(b.base_dt) }} as base_dt,
        {{ 1 if b.has_base_day else 0 }} as has_base_day
    union all
    {%- endfor %}
    select 'none', null, cast(null as date), 0, cast(null as date), 0 where 1 = 0
),

-- per derived indicator: its window's bounds; none without its base day ("no value when that day
-- is missing")
derived_spec as (
    select
        catalog.indicator_code,
        catalog.grain,
        catalog.fact,
        catalog.measure,
        catalog.segment,
        catalog.agg,
        {{ run_date() }} as run_dt,
        bound.start_before_dt,
        bound.days_with_data,
        bound.base_dt
    from indicator_catalog as catalog
    inner join period_bound as bound
        on bound.window_type = catalog.window_type
        and coalesce(bound.window_days, -1) = coalesce(catalog.window_days, -1)
    where catalog.kind = 'derived'
        and bound.has_base_day = 1
),

-- the members of each grain on the run day: every member any fact has a row for, and the bank
grain_member as (
    select distinct
        measure_daily.grain,
        measure_daily.grain_id
    from measure_daily
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

-- each indicator's member with its measure's values on the days its window reads
windowed as (
    select
        grid.indicator_code,
        grid.grain_id,
        grid.agg,
        grid.days_with_data,
        history.run_value,
        history.run_cum,
        {{ history_on('grid.start_before_dt', history_days, 'history.cum_') }} as start_before_cum,
        {{ history_on('grid.base_dt', history_days, 'history.value_') }} as base_value
    from derived_grid as grid
    left join history_by_member as history
        on history.grain = grid.grain
        and history.grain_id = grid.grain_id
        and history.fact = grid.fact
        and history.measure = grid.measure
        and history.segment = grid.segment
),

derived_value as (
    select
        indicator_code,
        grain_id,
        -- running totals and differences stay exact decimals; only the average divides, as a double
        case agg
            when 'last' then cast(coalesce(run_value, 0) as double)
            when 'sum' then cast({{ window_total() }} as double)
            when 'avg' then cast({{ window_total() }} as double) / days_with_data
            when 'change' then cast(coalesce(run_value, 0) - coalesce(base_value, 0) as double)
            when 'base' then cast(coalesce(base_value, 0) as double)
        end as value
    from windowed
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
        {{ run_date() }} as dt,
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
    left join member_name as named
        on named.grain = catalog.grain and named.grain_id = indicator_value.grain_id
)

select * from final
