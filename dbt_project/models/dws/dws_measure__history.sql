-- The running totals of every measure, chained from the previous lake day: one row per grain,
-- member, fact, measure and segment with the day's value and its sum over every lake day up to the
-- business date. A period's total is then the difference of two running totals (the business date's
-- and the last lake day's before the period starts), so a build reads a fixed number of days
-- whatever the lake holds. Kept in the lake as the day's rows of its table (macros/lake_history.sql).
-- Only the measures an indicator of the catalog reads, at its grain and segment (the customer grain
-- carries every measure of its facts; a handful have indicators). A member unseen for more than a
-- year is dropped: no period reaches back that far.

{{ config(tags=['lake_history']) }}

{%- set previous_day = previous_lake_day() %}

with

indicator_measure as (
    select distinct grain, fact, measure, segment
    from {{ ref('indicator_catalog') }}
    where kind = 'derived'
),

measure_daily as (
    select daily.*
    from {{ ref('dws_measure__grain_daily') }} as daily
    inner join indicator_measure
        on indicator_measure.grain = daily.grain
        and indicator_measure.fact = daily.fact
        and indicator_measure.measure = daily.measure
        and indicator_measure.segment = daily.segment
    where daily.dt = {{ run_date() }}
),

previous_history as (
    select * from {{ lake_history('dws_measure__history', [previous_day] if previous_day else [], measure_history_columns()) }} as history
),

final as (
    select
        -- grain
        {{ run_date() }} as dt,
        coalesce(today.grain, previous.grain) as grain,
        coalesce(today.grain_id, previous.grain_id) as grain_id,
        coalesce(today.fact, previous.fact) as fact,
        coalesce(today.measure, previous.measure) as measure,
        coalesce(today.segment, previous.segment) as segment,

        -- the day and the running total
        cast(coalesce(today.value, 0) as decimal(38, 6)) as value,
        cast(coalesce(previous.cum_value, 0) + coalesce(today.value, 0) as decimal(38, 6)) as cum_value,
        case when today.grain is not null then {{ run_date() }} else previous.last_dt end as last_dt
    from measure_daily as today
    full outer join previous_history as previous
        on previous.grain = today.grain
        and previous.grain_id = today.grain_id
        and previous.fact = today.fact
        and previous.measure = today.measure
        and previous.segment = today.segment
    where today.grain is not null
        or previous.last_dt >= {{ add_days(run_date(), -367) }}
)

select * from final
