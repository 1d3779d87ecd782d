{# After the build: make the DuckDB file self-contained (no pending WAL) before transform swaps it in. #}
{% macro finish_warehouse() -%}
  {{ return(adapter.dispatch('finish_warehouse', 'granary')()) }}
{%- endmacro %}

{% macro default__finish_warehouse() -%}
  select 1
{%- endmacro %}

{% macro duckdb__finish_warehouse() -%}
  checkpoint
{%- endmacro %}
