-- The tag dictionary: every catalogued tag, its category in Chinese and English, its rule in words,
-- and how many customers hold it on the business date.

with

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

customer_tag as (
    select * from {{ ref('ads_customer_tag') }}
),

holders as (
    select tag_code, count(*) as customer_count
    from customer_tag
    group by tag_code
),

final as (
    select
        tag_catalog.tag_code,
        tag_catalog.name_zh,
        tag_catalog.name_en,
        tag_catalog.category,
        tag_catalog.category_zh,
        tag_catalog.rule_text,
        tag_catalog.category_en,
        tag_catalog.tag_order,
        {{ run_date() }} as dt,
        coalesce(holders.customer_count, 0) as customer_count
    from tag_catalog
    left join holders on holders.tag_code = tag_catalog.tag_code
)

select * from final
