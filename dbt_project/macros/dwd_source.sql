{#
  The bank's DWD Parquet table, all dt partitions, with `dt` as a column.
  Layout (the shared data contract): <lake_root>/<tenant>/dwd/<table>/dt=<YYYY-MM-DD>/*.parquet
  The call to source() is only for lineage: the DWD tables are files, not warehouse tables.
#}
{% macro dwd_source(table) -%}
  {%- do source('dwd', table) -%}
  {{ return(adapter.dispatch('dwd_source', 'granary')(table)) }}
{%- endmacro %}

{% macro dwd_path(table) -%}
  {{ return(var('lake_root') ~ '/' ~ var('tenant') ~ '/dwd/' ~ table) }}
{%- endmacro %}

{% macro duckdb__dwd_source(table) -%}
  read_parquet('{{ dwd_path(table) }}/dt=*/*.parquet', hive_partitioning = true, union_by_name = true)
{%- endmacro %}

{# Spark discovers the dt=… partitions itself when given the table directory. #}
{% macro spark__dwd_source(table) -%}
  parquet.`{{ dwd_path(table) }}`
{%- endmacro %}

{% macro default__dwd_source(table) -%}
  {{ exceptions.raise_compiler_error("no DWD Parquet reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__dwd_source macro") }}
{%- endmacro %}
