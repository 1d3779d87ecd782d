-- Derived indicators are additive over branches (averages share one day count per window):
-- the bank's value must equal the sum of its branches' values. Rows returned = failures.

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
),

bank_total as (
    select atomic_code, modifier, period, value
    from keyed
    where grain = 'bank'
),

branch_sum as (
    select atomic_code, modifier, period, sum(value) as value
    from keyed
    where grain = 'branch'
    group by atomic_code, modifier, period
),

final as (
    select
        bank_total.atomic_code,
        bank_total.modifier,
        bank_total.period,
        bank_total.value as bank_value,
        branch_sum.value as branch_sum
    from bank_total
    left join branch_sum
        on branch_sum.atomic_code = bank_total.atomic_code
        and branch_sum.modifier = bank_total.modifier
        and branch_sum.period = bank_total.period
    where branch_sum.value is null
        or abs(bank_total.value - branch_sum.value) > 0.005 + 1e-9 * abs(bank_total.value)
)

select * from final
