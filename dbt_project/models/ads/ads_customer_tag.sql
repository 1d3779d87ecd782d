-- Each customer's tags for the business date: one row per customer and tag that holds.
-- The rules are evaluated once for every lake day in profile_tag__daily; this is the business date.

with

tag_daily as (
    select * from {{ ref('profile_tag__daily') }}
),

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

final as (
    select
        tag_daily.dt,
        tag_daily.customer_id,
        tag_daily.tag_code,
        tag_catalog.name_zh as tag_name_zh,
        tag_catalog.category_zh
    from tag_daily
    inner join run_date on tag_daily.dt = run_date.run_dt
    inner join tag_catalog on tag_catalog.tag_code = tag_daily.tag_code
)

select * from final
