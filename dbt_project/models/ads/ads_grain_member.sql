-- Who each grain member is: its name beside its code, for dashboards and loan systems. One row per
-- bank, branch, customer manager and village on the business date (branch and village names from
-- the DWD snapshots, a manager's name masked as every PII column is).

with

branch as (
    select * from {{ dwd_source('branch') }}
),

staff as (
    select * from {{ dwd_source('staff') }}
),

village as (
    select * from {{ dwd_source('village_credit_rating') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

member as (
    select
        'bank' as grain,
        '{{ var("tenant") }}' as grain_id,
        '{{ var("tenant_name_zh", var("tenant")) | replace("'", "''") }}' as name_zh,
        cast(null as varchar(64)) as parent_id
    union all
    select 'branch', branch.branch_id, branch.branch_name, '{{ var("tenant") }}'
    from branch
    inner join run_date on cast(branch.dt as date) = run_date.run_dt
    union all
    select 'manager', staff.staff_id, staff.staff_name_masked, staff.branch_id
    from staff
    inner join run_date on cast(staff.dt as date) = run_date.run_dt
    union all
    select 'village', village.village_code, village.village_name, village.township_code
    from village
    inner join run_date on cast(village.dt as date) = run_date.run_dt
),

final as (
    select
        -- grain
        run_date.run_dt as dt,
        member.grain,
        member.grain_id,

        -- names
        member.name_zh,
        member.parent_id
    from member
    cross join run_date
)

select * from final
