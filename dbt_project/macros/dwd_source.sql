{#
  The bank's DWD Parquet table as a subquery: the dt partitions of the look-back window, with `dt`
  as a date column. Layout (the shared data contract): <lake_root>/<tenant>/dwd/<table>/dt=<YYYY-MM-DD>/
  Only days up to the business date are read, so rebuilding an old day never sees later days, and
  only as far back as the longest period needs (a year and a day: year-on-year's base day).
  The call to source() is only for lineage: the DWD tables are files, not warehouse tables.
#}
{% macro dwd_source(table) -%}
  {%- do source('dwd', table) -%}
  (select * from {{ adapter.dispatch('dwd_files', 'granary')(table) }} as dwd_file
   where cast(dt as date) between {{ add_days(run_date(), -lookback_days()) }} and {{ run_date() }})
{%- endmacro %}

{# Days before the business date a build reads: year-on-year compares with 366 days back at most. #}
{% macro lookback_days() -%}
  {{ return(366) }}
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
