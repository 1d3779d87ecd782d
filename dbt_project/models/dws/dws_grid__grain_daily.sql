-- Households of the credit-village grid survey per day, segment and member: the head's home branch,
-- the surveying manager, the household's village; with their land, livestock and income.

with

grid_household as (
    select * from {{ dwd_source('grid_household') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

-- the household's land, livestock and latest year's income, summed once, in the head's profile
household_profile as (
    select * from {{ ref('profile_household__daily') }}
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
        coalesce(profile.land_area_mu, 0) as land_area_mu,
        coalesce(profile.livestock_value, 0) as livestock_value,
        coalesce(profile.household_income, 0) as annual_income
    from grid_household as household
    left join customer
        on customer.customer_id = household.head_customer_id and customer.dt = household.dt
    left join household_profile as profile
        on profile.customer_id = household.head_customer_id and profile.dt = cast(household.dt as date)
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
