-- The tag dictionary: every catalogued tag, its category and its rule in words.

with

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

final as (
    select
        tag_code,
        name_zh,
        name_en,
        category,
        category_zh,
        rule_text
    from tag_catalog
)

select * from final
