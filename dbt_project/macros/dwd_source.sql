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
  (select * from {{ adapter.dispatch('dwd_files', 'granary')(table) }} as dwd_file
   where cast(dt as date) between {{ add_days(run_date(), -days_before) }} and {{ run_date() }})
{%- endmacro %}

{% macro dwd_path(table) -%}
  {{ return(var('lake_root') ~ '/' ~ var('tenant') ~ '/dwd/' ~ table) }}
{%- endmacro %}

{% macro duckdb__dwd_files(table) -%}
  read_parquet('{{ dwd_path(table) }}/dt=*/*.parquet', hive_partitioning = true, union_by_name = true)
{%- endmacro %}

{# Spark discovers the dt=… partitions itself when given the table directory. #}
{% macro spark__dwd_files(table) -%}
  parquet.`{{ dwd_path(table) }}`
{%- endmacro %}

{% macro default__dwd_files(table) -%}
  {{ exceptions.raise_compiler_error("no DWD Parquet reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__dwd_files macro") }}
{%- endmacro %}
