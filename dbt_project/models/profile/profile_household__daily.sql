-- Each customer's household per day from the credit-village grid survey (the customer is the head of
-- a surveyed household): members, land, livestock, the latest year's income, and the village rating.

with

customer as (
    select * from {{ dwd_source('customer') }} as customer
),

grid_household as (
    select * from {{ dwd_source('grid_household') }} as grid_household
),

grid_member as (
    select * from {{ dwd_source('grid_member') }} as grid_member
),

grid_land as (
    select * from {{ dwd_source('grid_land') }} as grid_land
),

grid_livestock as (
    select * from {{ dwd_source('grid_livestock') }} as grid_livestock
),

grid_income as (
    select * from {{ dwd_source('grid_income') }} as grid_income
),

village_credit_rating as (
    select * from {{ dwd_source('village_credit_rating') }} as village_credit_rating
),

members_by_household as (
    select
        cast(dt as date) as dt,
        household_id,
        max(case when relation = 'head' then occupation end) as head_occupation,
        count(case when occupation = 'migrant_worker' then 1 end) as migrant_worker_count,
        count(case when occupation = 'student' then 1 end) as student_count,
        count(case when {{ age_in_years('birth_date', 'cast(dt as date)') }} >= 60 then 1 end) as elderly_member_count
    from grid_member
    group by cast(dt as date), household_id
),

land_by_household as (
    select
        cast(dt as date) as dt,
        household_id,
        cast(sum(area_mu) as decimal(14, 2)) as land_area_mu,
        cast(sum(case when land_type = 'contracted' then area_mu else 0 end) as decimal(14, 2)) as contracted_area_mu,
        cast(sum(case when land_type = 'forest' then area_mu else 0 end) as decimal(14, 2)) as forest_area_mu,
        count(case when crop in ('rice', 'wheat', 'corn') then 1 end) as grain_plot_count,
        count(case when crop in ('vegetables', 'tea', 'fruit', 'rapeseed') then 1 end) as cash_crop_plot_count,
        count(case when right_confirmed then 1 end) as confirmed_plot_count
    from grid_land
    group by cast(dt as date), household_id
),

livestock_by_household as (
    select
        cast(dt as date) as dt,
        household_id,
        cast(sum(estimated_value) as decimal(20, 2)) as livestock_value,
        cast(sum(case when species in ('pig', 'cattle', 'sheep') then head_count else 0 end) as {{ dbt.type_bigint() }})
            as large_livestock_heads,
        cast(sum(case when species in ('chicken', 'duck') then head_count else 0 end) as {{ dbt.type_bigint() }}) as poultry_heads,
        count(case when species = 'fish' then 1 end) as aquaculture_count
    from grid_livestock
    group by cast(dt as date), household_id
),

latest_income_year as (
    select cast(dt as date) as dt, household_id, max(income_year) as income_year
    from grid_income
    group by cast(dt as date), household_id
),

income_by_household as (
    select
        cast(i.dt as date) as dt,
        i.household_id,
        cast(sum(i.annual_income) as decimal(20, 2)) as household_income,
        cast(sum(case when i.income_source = 'planting' then i.annual_income else 0 end) as decimal(20, 2))
            as planting_income,
        cast(sum(case when i.income_source = 'livestock' then i.annual_income else 0 end) as decimal(20, 2))
            as livestock_income,
        cast(sum(case when i.income_source = 'wages' then i.annual_income else 0 end) as decimal(20, 2))
            as wage_income,
        cast(sum(case when i.income_source = 'business' then i.annual_income else 0 end) as decimal(20, 2))
            as business_income,
        cast(sum(case when i.income_source = 'transfers' then i.annual_income else 0 end) as decimal(20, 2))
            as transfer_income
    from grid_income as i
    inner join latest_income_year as y
        on y.household_id = i.household_id and y.dt = cast(i.dt as date) and y.income_year = i.income_year
    group by cast(i.dt as date), i.household_id
),

customer_days as (
    select cast(dt as date) as dt, customer_id, village_code
    from customer
),

final as (
    select
        c.dt,
        c.customer_id,

        -- household
        h.household_id is not null as is_surveyed,
        h.household_type,
        coalesce(h.members_count, 0) as household_members,
        coalesce(h.labor_count, 0) as household_labor,
        coalesce(h.credit_village, false) as in_credit_village_survey,
        m.head_occupation,
        coalesce(m.migrant_worker_count, 0) as migrant_worker_count,
        coalesce(m.student_count, 0) as student_count,
        coalesce(m.elderly_member_count, 0) as elderly_member_count,

        -- land
        cast(coalesce(l.land_area_mu, 0) as decimal(14, 2)) as land_area_mu,
        cast(coalesce(l.contracted_area_mu, 0) as decimal(14, 2)) as contracted_area_mu,
        cast(coalesce(l.forest_area_mu, 0) as decimal(14, 2)) as forest_area_mu,
        coalesce(l.grain_plot_count, 0) as grain_plot_count,
        coalesce(l.cash_crop_plot_count, 0) as cash_crop_plot_count,
        coalesce(l.confirmed_plot_count, 0) as confirmed_plot_count,

        -- livestock
        cast(coalesce(s.livestock_value, 0) as decimal(20, 2)) as livestock_value,
        coalesce(s.large_livestock_heads, 0) as large_livestock_heads,
        coalesce(s.poultry_heads, 0) as poultry_heads,
        coalesce(s.aquaculture_count, 0) as aquaculture_count,

        -- income, latest surveyed year
        cast(coalesce(i.household_income, 0) as decimal(20, 2)) as household_income,
        cast(coalesce(i.planting_income, 0) as decimal(20, 2)) as planting_income,
        cast(coalesce(i.livestock_income, 0) as decimal(20, 2)) as livestock_income,
        cast(coalesce(i.wage_income, 0) as decimal(20, 2)) as wage_income,
        cast(coalesce(i.business_income, 0) as decimal(20, 2)) as business_income,
        cast(coalesce(i.transfer_income, 0) as decimal(20, 2)) as transfer_income,

        -- the customer's village
        v.rating as village_rating
    from customer_days as c
    left join grid_household as h
        on h.head_customer_id = c.customer_id and cast(h.dt as date) = c.dt
    left join members_by_household as m
        on m.household_id = h.household_id and m.dt = c.dt
    left join land_by_household as l
        on l.household_id = h.household_id and l.dt = c.dt
    left join livestock_by_household as s
        on s.household_id = h.household_id and s.dt = c.dt
    left join income_by_household as i
        on i.household_id = h.household_id and i.dt = c.dt
    left join village_credit_rating as v
        on v.village_code = c.village_code and cast(v.dt as date) = c.dt
)

select * from final
