{#
  The bank's DWD table as a subquery: the business date's rows, and the days_before days before it
  for a model that looks back over a window of events (the last 30 days' activity), with `dt` as a
  date column. The DWD tables are Iceberg tables in the lake's catalog; which relation or files each
  engine reads is planned by granary/pipeline/transform.py from the catalog and handed over in
  GRANARY_DBT_LAKE… (JSON, per table: Spark's table name, DuckDB's data files by day), so no macro
  knows a table's name or where its files lie. A build reads a fixed number of days whatever the
  lake holds: longer periods come from the lake's day history (macros/lake_history.sql), never from
  re-reading DWD. The call to source() is only for lineage.
#}
{% macro dwd_source(table, days_before=0) -%}
  {%- do source('dwd', table) -%}
  (select * from {{ adapter.dispatch('dwd_relation', 'granary')(table, days_before) }} as dwd_file
   where cast(dt as date) between {{ add_days(run_date(), -days_before) }} and {{ run_date() }})
{%- endmacro %}

{#
  The build's plan of the lake (transform.plan_lake); nothing at parse time, when no SQL runs. The
  index (GRANARY_DBT_LAKE) names the planned tables; each table's plan is a variable of its own
  (GRANARY_DBT_LAKE__<SECTION>__<name>): one variable may not exceed 128 KiB where a process starts
  another, and a year of history's files would.
#}
{% macro lake_plan() -%}
  {{ return(fromjson(env_var('GRANARY_DBT_LAKE', '{}')) if execute else {}) }}
{%- endmacro %}

{# One planned table (section: dwd or history), or none if the plan has no such table. #}
{% macro planned_table(section, name) -%}
  {%- if not execute or name not in lake_plan().get(section, []) -%}{{ return(none) }}{%- endif -%}
  {{ return(fromjson(env_var('GRANARY_DBT_LAKE__' ~ section | upper ~ '__' ~ name))) }}
{%- endmacro %}

{# The planned reading of a DWD table. #}
{% macro dwd_plan(table, days_before) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set plan = lake_plan() -%}
  {%- if table not in plan.get('dwd', {}) -%}
    {{ exceptions.raise_compiler_error("the DWD table '" ~ table ~ "' of bank " ~ var('tenant') ~ " is not in the lake's catalog; run `granary clean --tenant " ~ var('tenant') ~ "` for its source first") }}
  {%- endif -%}
  {%- set first = (modules.datetime.date.fromisoformat(business_date()) - modules.datetime.timedelta(days=days_before)).isoformat() -%}
  {%- if first < plan['first_day'] -%}
    {{ exceptions.raise_compiler_error("a model reads " ~ days_before ~ " days of DWD before the business date; granary.pipeline.transform plans files from " ~ plan['first_day'] ~ " only (DWD_LOOKBACK_DAYS)") }}
  {%- endif -%}
  {%- set planned = planned_table('dwd', table) -%}
  {{ return({'spark': planned['spark'], 'files': planned['files'], 'empty': planned['empty'], 'first': first}) }}
{%- endmacro %}

{#
  DuckDB reads the planned data files of the days asked for, matched by column name (a column added
  to the contract later reads null in older files); a table with none of those days reads its
  schema from an empty file of the same columns (no rows pass the filter).
#}
{% macro duckdb__dwd_relation(table, days_before) -%}
  {%- set plan = dwd_plan(table, days_before) -%}
  {{ planned_files(plan, plan['first'] if plan else none, business_date()) }}
{%- endmacro %}

{# DuckDB's read of a planned table's files of the days first..last (ISO dates), by column name. #}
{% macro planned_files(plan, first, last) -%}
  {%- set files = [] -%}
  {%- if plan -%}
    {%- for day, path in plan['files'] if first <= day and day <= last -%}
      {%- do files.append(path) -%}
    {%- endfor -%}
    {%- if not files -%}{%- do files.append(plan['empty']) -%}{%- endif -%}
  {%- endif -%}
  read_parquet([{% for f in files %}'{{ f }}'{% if not loop.last %}, {% endif %}{% endfor %}], union_by_name = true)
{%- endmacro %}

{# Spark reads the table by its name in the lake catalog, and Iceberg prunes it by dt. #}
{% macro spark__dwd_relation(table, days_before) -%}
  {%- set plan = dwd_plan(table, days_before) -%}
  {{ plan['spark'] if plan else 'unplanned' }}
{%- endmacro %}

{% macro default__dwd_relation(table, days_before) -%}
  {{ exceptions.raise_compiler_error("no DWD reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__dwd_relation macro") }}
{%- endmacro %}
