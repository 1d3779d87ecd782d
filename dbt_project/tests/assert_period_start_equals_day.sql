-- On the first day of a month the month-to-date value is the day's value (a sum over one day, or an
-- average over one day with data); likewise quarter-to-date on a quarter's first day and
-- year-to-date on 1 January. Other days return no rows here: the recomputation tests cover them.

with

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

indicator_catalog as (
    select * from {{ ref('indicator_catalog') }}
),

run_date as (
    select
        {{ run_date() }} as run_dt,
        {{ first_day('month', run_date()) }} as month_start,
        {{ first_day('quarter', run_date()) }} as quarter_start,
        {{ first_day('year', run_date()) }} as year_start
),

-- the period that starts on the run date, if any
starting_period as (
    select 'MTD' as period from run_date where run_dt = month_start
    union all
    select 'QTD' as period from run_date where run_dt = quarter_start
    union all
    select 'YTD' as period from run_date where run_dt = year_start
),

keyed as (
    select
        indicator_value.grain,
        indicator_value.grain_id,
        indicator_value.value,
        catalog.atomic_code,
        coalesce(catalog.modifier, '-') as modifier,
        catalog.period
    from indicator_value
    inner join indicator_catalog as catalog
        on catalog.indicator_code = indicator_value.indicator_code
    where catalog.kind = 'derived'
),

final as (
    select
        period_value.atomic_code,
        period_value.modifier,
        period_value.period,
        period_value.grain,
        period_value.grain_id,
        period_value.value as period_value,
        day_value.value as day_value
    from keyed as period_value
    inner join starting_period
        on starting_period.period = period_value.period
    left join keyed as day_value
        on day_value.period = 'D'
        and day_value.atomic_code = period_value.atomic_code
        and day_value.modifier = period_value.modifier
        and day_value.grain = period_value.grain
        and day_value.grain_id = period_value.grain_id
    where day_value.value is null
        or abs(period_value.value - day_value.value) > 1e-9 * (1 + abs(day_value.value))
)

select * from final
