-- Households of the credit-village grid survey per day, segment and member: the head's home branch,
-- the surveying manager, the household's village; with their land, livestock and income.

with

grid_household as (
    select * from {{ dwd_source('grid_household') }}
),

grid_land as (
    select * from {{ dwd_source('grid_land') }}
),

grid_livestock as (
    select * from {{ dwd_source('grid_livestock') }}
),

grid_income as (
    select * from {{ dwd_source('grid_income') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

land_by_household as (
    select cast(dt as date) as dt, household_id, sum(area_mu) as land_area_mu
    from grid_land
    group by cast(dt as date), household_id
),

livestock_by_household as (
    select cast(dt as date) as dt, household_id, sum(estimated_value) as livestock_value
    from grid_livestock
    group by cast(dt as date), household_id
),

-- each household's income in its latest income year on file
latest_income_year as (
    select cast(dt as date) as dt, household_id, max(income_year) as income_year
    from grid_income
    group by cast(dt as date), household_id
),

income_by_household as (
    select latest.dt, latest.household_id, sum(income.annual_income) as annual_income
    from latest_income_year as latest
    inner join grid_income as income
        on income.household_id = latest.household_id
        and cast(income.dt as date) = latest.dt
        and income.income_year = latest.income_year
    group by latest.dt, latest.household_id
),

grid_detail as (
    select
        -- keys
        cast(household.dt as date) as dt,
        household.head_customer_id as customer_id,
        customer.branch_id,
        household.manager_id,
        household.village_code,

        -- what modifiers filter on
        household.household_type,

        -- facts
        household.credit_village,
        household.members_count,
        household.labor_count,
        coalesce(land.land_area_mu, 0) as land_area_mu,
        coalesce(livestock.livestock_value, 0) as livestock_value,
        coalesce(income.annual_income, 0) as annual_income
    from grid_household as household
    left join customer
        on customer.customer_id = household.head_customer_id and customer.dt = household.dt
    left join land_by_household as land
        on land.household_id = household.household_id and land.dt = cast(household.dt as date)
    left join livestock_by_household as livestock
        on livestock.household_id = household.household_id and livestock.dt = cast(household.dt as date)
    left join income_by_household as income
        on income.household_id = household.household_id and income.dt = cast(household.dt as date)
),

grid_segments as (
    {{ segment_rows('grid_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- surveyed households (stock)
        count(*) as households,
        count(case when credit_village then 1 end) as credit_village_households,
        sum(members_count) as members,
        sum(labor_count) as labor_force,
        sum(land_area_mu) as land_area_mu,
        sum(livestock_value) as livestock_value,
        sum(annual_income) as annual_income
    from grid_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
