{#
  What the pipeline recorded about the business date's data quality, read for the dashboards:
  granary validate's results (one row per expectation) and granary clean's reconciliation (rows in /
  clean / quarantined, one JSON per table). Where they are is the build's lake plan
  (granary.pipeline.transform.plan_lake, from granary/core/paths.py: quality_dir,
  reconciliation_file), never spelled here. A build whose day has no such files (transform run
  without the gate, as in the dbt tests) reads an empty relation with the same columns instead of
  failing. The source() calls are for lineage only.
#}

{% macro quality_results() -%}
  {%- do source('quality', 'expectation_results') -%}
  {{ return(adapter.dispatch('quality_results', 'granary')()) }}
{%- endmacro %}

{% macro reconciliation_results() -%}
  {%- do source('quality', 'reconciliation') -%}
  {{ return(adapter.dispatch('reconciliation_results', 'granary')()) }}
{%- endmacro %}

{# The day's quality records as planned: results (a path or ''), reconciliation (JSON files). #}
{% macro quality_plan() -%}
  {{ return(lake_plan().get('quality', {'results': '', 'reconciliation': []})) }}
{%- endmacro %}

{% macro empty_quality_results() -%}
  (select
      cast(null as {{ dbt.type_string() }}) as suite,
      cast(null as {{ dbt.type_string() }}) as table_name,
      cast(null as {{ dbt.type_string() }}) as expectation,
      cast(null as {{ dbt.type_string() }}) as column_name,
      cast(null as {{ dbt.type_boolean() }}) as success,
      cast(null as {{ dbt.type_bigint() }}) as unexpected_count,
      cast(null as {{ dbt.type_bigint() }}) as rows_checked
   from (select 1 as one) as nothing
   where 1 = 0)
{%- endmacro %}

{% macro empty_reconciliation() -%}
  (select
      cast(null as {{ dbt.type_string() }}) as table_name,
      cast(null as {{ dbt.type_bigint() }}) as rows_in,
      cast(null as {{ dbt.type_bigint() }}) as rows_clean,
      cast(null as {{ dbt.type_bigint() }}) as rows_quarantined
   from (select 1 as one) as nothing
   where 1 = 0)
{%- endmacro %}

{% macro duckdb__quality_results() -%}
  {%- set path = quality_plan()['results'] -%}
  {%- if path -%}
  (select
      suite,
      table_name,
      expectation,
      column_name,
      success,
      unexpected_count,
      rows_checked
   from read_json(
       ['{{ path }}'],
       columns = {suite: 'varchar', table_name: 'varchar', expectation: 'varchar', column_name: 'varchar',
                  success: 'boolean', unexpected_count: 'bigint', rows_checked: 'bigint'}
   ))
  {%- else -%}
  {{ empty_quality_results() }}
  {%- endif -%}
{%- endmacro %}

{# DuckDB's JSON reader is built in (no extension download). `table` is the JSON key. #}
{% macro duckdb__reconciliation_results() -%}
  {%- set files = quality_plan()['reconciliation'] -%}
  {%- if files -%}
  (select
      "table" as table_name,
      rows_in,
      rows_clean,
      rows_quarantined
   from read_json(
       [{% for f in files %}'{{ f }}'{% if not loop.last %}, {% endif %}{% endfor %}],
       columns = {"table": 'varchar', rows_in: 'bigint', rows_clean: 'bigint', rows_quarantined: 'bigint'}
   ))
  {%- else -%}
  {{ empty_reconciliation() }}
  {%- endif -%}
{%- endmacro %}

{#
  Spark SQL cannot ask whether a path exists, and reading a missing one fails the build: the
  scale-out target publishes the table empty (the Data Docs and results.json still hold the day).
#}
{% macro default__quality_results() -%}
  {{ empty_quality_results() }}
{%- endmacro %}

{% macro default__reconciliation_results() -%}
  {{ empty_reconciliation() }}
{%- endmacro %}
