-- The villages of the credit-village register per day: rating and household coverage. A village is
-- a member of the village grain only; it has no branch, manager or customer.

with

village_credit_rating as (
    select * from {{ dwd_source('village_credit_rating') }}
),

village_detail as (
    select
        -- keys
        cast(village.dt as date) as dt,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as branch_id,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        village.village_code,

        -- facts
        village.rating,
        village.households_total,
        village.households_surveyed
    from village_credit_rating as village
),

village_segments as (
    {{ segment_rows('village_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- the register (stock)
        count(*) as villages,
        count(case when rating in ('A', 'AA', 'AAA') then 1 end) as rated_villages,
        count(case when rating = 'AAA' then 1 end) as aaa_villages,
        sum(households_total) as village_households,
        sum(households_surveyed) as village_households_surveyed
    from village_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
