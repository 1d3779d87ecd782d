-- When each customer gained and lost each tag: one row per customer, tag and holding spell over the
-- lake days of the build's window (the days dws_customer__daily holds, up to the business date).
-- A spell is a run of consecutive lake days on which the tag held. gained_dt is its first day (when
-- that is the window's first day the tag may have held before: held_since_window_start), lost_dt the
-- first lake day after it on which the tag no longer held (null while it still holds on the business
-- date). A customer missing from a day's snapshot holds no tag that day.

with

tag_daily as (
    select * from {{ ref('profile_tag__daily') }}
),

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

lake_days as (
    select
        dt,
        row_number() over (order by dt) as day_no
    from (select distinct dt from customer_daily) as distinct_days
),

window_bounds as (
    select min(dt) as first_dt, max(day_no) as last_day_no
    from lake_days
),

-- consecutive days of a spell share day_no minus their rank within the customer's tag
held_days as (
    select
        tag_daily.customer_id,
        tag_daily.tag_code,
        tag_daily.dt,
        lake_days.day_no,
        lake_days.day_no - row_number() over (
            partition by tag_daily.customer_id, tag_daily.tag_code order by tag_daily.dt
        ) as spell_key
    from tag_daily
    inner join lake_days on lake_days.dt = tag_daily.dt
),

spells as (
    select
        customer_id,
        tag_code,
        min(dt) as gained_dt,
        max(dt) as last_held_dt,
        count(*) as days_held,
        max(day_no) as last_day_no
    from held_days
    group by customer_id, tag_code, spell_key
),

final as (
    select
        {{ run_date() }} as dt,
        spells.customer_id,
        spells.tag_code,
        tag_catalog.name_zh as tag_name_zh,
        tag_catalog.category_zh,
        spells.gained_dt,
        next_day.dt as lost_dt,
        spells.last_held_dt,
        spells.days_held,
        spells.gained_dt = window_bounds.first_dt as held_since_window_start,
        next_day.dt is null as is_current
    from spells
    cross join window_bounds
    inner join tag_catalog on tag_catalog.tag_code = spells.tag_code
    left join lake_days as next_day on next_day.day_no = spells.last_day_no + 1
)

select * from final
