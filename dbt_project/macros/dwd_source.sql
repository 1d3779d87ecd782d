{#
  The bank's DWD Parquet table as a subquery: the business date's dt partition, and the days_before
  days before it for a model that looks back over a window of events (the last 30 days' activity),
  with `dt` as a date column. Layout (the shared data contract):
  <lake_root>/<tenant>/dwd/<table>/dt=<YYYY-MM-DD>/. A build reads a fixed number of days whatever
  the lake holds: longer periods come from the lake's day history (macros/lake_history.sql), never
  from re-reading DWD. The call to source() is only for lineage: the DWD tables are files.
#}
{% macro dwd_source(table, days_before=0) -%}
  {%- do source('dwd', table) -%}
  (select * from {{ adapter.dispatch('dwd_files', 'granary')(table, days_before) }} as dwd_file
   where cast(dt as date) between {{ add_days(run_date(), -days_before) }} and {{ run_date() }})
{%- endmacro %}

{% macro dwd_path(table) -%}
  {{ return(var('lake_root') ~ '/' ~ var('tenant') ~ '/dwd/' ~ table) }}
{%- endmacro %}

{#
  DuckDB reads the files of the days asked for, listed by name first: given the whole table, it
  would open every day's file to unify their schemas (union_by_name), a cost that grows with the
  days the lake holds. With none of those days in the lake, the whole table (no rows pass the filter).
#}
{% macro duckdb__dwd_files(table, days_before) -%}
  {%- set pattern = dwd_path(table) ~ '/dt=*/*.parquet' -%}
  {%- set files = [] -%}
  {%- if execute -%}
    {%- set last = business_date() -%}
    {%- set first = (modules.datetime.date.fromisoformat(last) - modules.datetime.timedelta(days=days_before)).isoformat() -%}
    {%- for row in run_query("select file from glob('" ~ pattern ~ "') order by file").rows -%}
      {%- set day = row[0].split('/dt=')[-1].split('/')[0] -%}
      {%- if first <= day and day <= last -%}{%- do files.append(row[0]) -%}{%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if files -%}
  read_parquet([{% for f in files %}'{{ f }}'{% if not loop.last %}, {% endif %}{% endfor %}], hive_partitioning = true, union_by_name = true)
  {%- else -%}
  read_parquet('{{ pattern }}', hive_partitioning = true, union_by_name = true)
  {%- endif -%}
{%- endmacro %}

{# Spark discovers the dt=… partitions itself when given the table directory, and prunes them by dt. #}
{% macro spark__dwd_files(table, days_before) -%}
  parquet.`{{ dwd_path(table) }}`
{%- endmacro %}

{% macro default__dwd_files(table, days_before) -%}
  {{ exceptions.raise_compiler_error("no DWD Parquet reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__dwd_files macro") }}
{%- endmacro %}
