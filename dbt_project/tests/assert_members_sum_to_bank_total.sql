-- Additive indicators add up: at every grain below the bank (branch, manager, village), the members'
-- values sum to the bank's value for the same atomic, modifier and period (averages share one day
-- count per window, so they add up too). Rows returned = failures.

with

indicator_value as (
    select * from {{ ref('ads_indicator_value') }}
),

indicator_catalog as (
    select * from {{ ref('indicator_catalog') }}
),

keyed as (
    select
        indicator_value.grain,
        indicator_value.value,
        catalog.atomic_code,
        coalesce(catalog.modifier, '-') as modifier,
        catalog.period
    from indicator_value
    inner join indicator_catalog as catalog
        on catalog.indicator_code = indicator_value.indicator_code
    where catalog.kind = 'derived'
        and catalog.additive
),

bank_total as (
    select atomic_code, modifier, period, value
    from keyed
    where grain = 'bank'
),

member_sum as (
    select grain, atomic_code, modifier, period, sum(value) as value
    from keyed
    where grain in ('branch', 'manager', 'village')
    group by grain, atomic_code, modifier, period
),

final as (
    select
        member_sum.grain,
        member_sum.atomic_code,
        member_sum.modifier,
        member_sum.period,
        bank_total.value as bank_value,
        member_sum.value as member_sum
    from member_sum
    left join bank_total
        on bank_total.atomic_code = member_sum.atomic_code
        and bank_total.modifier = member_sum.modifier
        and bank_total.period = member_sum.period
    where bank_total.value is null
        or abs(bank_total.value - member_sum.value) > 0.005 + 1e-9 * abs(bank_total.value)
)

select * from final
