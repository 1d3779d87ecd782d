-- Every composite value equals sum(numerator parts) / sum(denominator parts) recomputed from the
-- published part values of the same member, and is null exactly when that denominator is 0.

with

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

composite_part as (
    select * from {{ ref('indicator_composite_part') }}
),

recomputed as (
    select
        part.indicator_code,
        parts.grain_id,
        sum(case when part.role = 'numerator' then parts.value else 0 end) as numerator,
        sum(case when part.role = 'denominator' then parts.value else 0 end) as denominator
    from composite_part as part
    inner join indicator_value as parts
        on parts.indicator_code = part.part_code
    group by part.indicator_code, parts.grain_id
),

final as (
    select
        published.indicator_code,
        published.grain_id,
        published.value as published_value,
        recomputed.numerator,
        recomputed.denominator
    from indicator_value as published
    inner join (select distinct indicator_code from composite_part) as composite
        on composite.indicator_code = published.indicator_code
    left join recomputed
        on recomputed.indicator_code = published.indicator_code
        and recomputed.grain_id = published.grain_id
    where recomputed.indicator_code is null
        or (recomputed.denominator = 0 and published.value is not null)
        or (recomputed.denominator <> 0 and published.value is null)
        or abs(published.value - recomputed.numerator / recomputed.denominator)
            > 1e-9 * (1 + abs(recomputed.numerator / recomputed.denominator))
)

select * from final
