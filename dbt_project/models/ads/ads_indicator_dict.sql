-- The indicator dictionary analysts read: every catalogued indicator, its names, definition and lineage.

with

indicator_catalog as (
    select * from {{ ref('indicator_catalog') }}
),

final as (
    select
        indicator_code,
        name_zh,
        name_en,
        theme,
        theme_zh,
        definition_zh,
        definition_en,
        unit,
        grain,
        atomic_code,
        period,
        modifier,
        kind,
        owner,
        cast(additive as boolean) as additive,
        value_min,
        value_max
    from indicator_catalog
)

select * from final
