-- When each customer gained and lost each tag: one row per customer, tag and holding spell, chained
-- from the previous lake day's spells (the lake's day history of this model) and the business date's
-- tags, so a build reads one earlier day whatever the lake holds.
-- A spell is a run of consecutive lake days on which the tag held. gained_dt is its first day (the
-- lake's first day, held_since_window_start, means it may have held before), lost_dt the first lake
-- day on which it no longer held (null while it holds on the business date). A customer missing from
-- a day's snapshot holds no tag that day. Spells lost more than a year ago are dropped.

{{ config(tags=['lake_history']) }}

{%- set previous_day = previous_lake_day() %}

with

tag_daily as (
    select * from {{ ref('profile_tag__daily') }}
    where dt = {{ run_date() }}
),

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

previous_spell as (
    select * from {{ lake_history('ads_customer_tag_history', [previous_day] if previous_day else [], tag_history_columns()) }} as history
),

open_spell as (
    select * from previous_spell where is_current
),

-- open spells the business date extends or ends, and the tags it starts
spell as (
    select
        coalesce(open_spell.customer_id, today.customer_id) as customer_id,
        coalesce(open_spell.tag_code, today.tag_code) as tag_code,
        coalesce(open_spell.gained_dt, {{ run_date() }}) as gained_dt,
        case when today.tag_code is null then {{ run_date() }} end as lost_dt,
        case when today.tag_code is null then open_spell.last_held_dt else {{ run_date() }} end as last_held_dt,
        coalesce(open_spell.days_held, 0) + case when today.tag_code is null then 0 else 1 end as days_held,
        coalesce(open_spell.held_since_window_start, {{ 'false' if previous_day else 'true' }})
            as held_since_window_start
    from open_spell
    full outer join tag_daily as today
        on today.customer_id = open_spell.customer_id
        and today.tag_code = open_spell.tag_code
    union all
    select customer_id, tag_code, gained_dt, lost_dt, last_held_dt, days_held, held_since_window_start
    from previous_spell
    where not is_current
        and lost_dt > {{ add_days(run_date(), -366) }}
),

final as (
    select
        {{ run_date() }} as dt,
        spell.customer_id,
        spell.tag_code,
        tag_catalog.name_zh as tag_name_zh,
        tag_catalog.category_zh,
        spell.gained_dt,
        spell.lost_dt,
        spell.last_held_dt,
        cast(spell.days_held as {{ dbt.type_bigint() }}) as days_held,
        spell.held_since_window_start,
        spell.lost_dt is null as is_current
    from spell
    inner join tag_catalog on tag_catalog.tag_code = spell.tag_code
)

select * from final
