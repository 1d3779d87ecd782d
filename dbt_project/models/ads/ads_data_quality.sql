-- Data quality of the business date: one row per table and expectation (type x column), with how
-- many checks passed or failed, how many rows broke them, and the table's cleaning reconciliation.
-- Transform runs only after the gate passed, so the published day always passed; a failing day is
-- in quality_dir/results.json, its Data Docs and the task log, not here.

with

quality_results as (
    select * from {{ quality_results() }}
),

reconciliation as (
    select * from {{ reconciliation_results() }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

checks_per_expectation as (
    select
        table_name,
        suite,
        expectation,
        nullif(column_name, '') as column_name,
        count(*) as checks,
        sum(case when success then 1 else 0 end) as checks_passed,
        sum(case when success then 0 else 1 end) as checks_failed,
        sum(unexpected_count) as failed_rows,
        max(rows_checked) as rows_checked
    from quality_results
    group by table_name, suite, expectation, nullif(column_name, '')
),

final as (
    select
        -- grain
        run_date.run_dt as dt,
        checks.table_name,
        checks.expectation,
        checks.column_name,

        -- labels
        checks.suite,
        case checks.expectation
            when 'expect_table_row_count_to_be_between' then '表行数'
            when 'expect_table_columns_to_match_set' then '字段与契约一致'
            when 'expect_column_values_to_be_unique' then '主键唯一'
            when 'expect_compound_columns_to_be_unique' then '联合主键唯一'
            when 'expect_column_values_to_not_be_null' then '非空'
            when 'expect_column_values_to_be_in_set' then '码值合法'
            when 'expect_column_values_to_be_between' then '取值范围'
            when 'expect_column_values_to_match_regex' then '格式'
            when 'expect_column_values_to_not_match_regex' then '无明文个人信息'
            else checks.expectation
        end as expectation_zh,

        -- outcome
        case when checks.checks_failed = 0 then true else false end as passed,
        cast(checks.checks as bigint) as checks,
        cast(checks.checks_passed as bigint) as checks_passed,
        cast(checks.checks_failed as bigint) as checks_failed,
        cast(checks.rows_checked as bigint) as rows_checked,
        cast(checks.rows_checked - checks.failed_rows as bigint) as passed_rows,
        cast(checks.failed_rows as bigint) as failed_rows,

        -- reconciliation of the table's cleaning (rows in = clean + quarantined)
        cast(reconciliation.rows_in as bigint) as rows_in,
        cast(reconciliation.rows_clean as bigint) as rows_clean,
        cast(reconciliation.rows_quarantined as bigint) as rows_quarantined
    from checks_per_expectation as checks
    cross join run_date
    left join reconciliation on reconciliation.table_name = checks.table_name
)

select * from final
