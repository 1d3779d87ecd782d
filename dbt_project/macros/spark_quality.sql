{#
  The day's quality results and cleaning reconciliation on Spark (see quality_source.sql for the
  files and the DuckDB readers). Spark SQL cannot ask whether a path exists and a path query
  (parquet.`…`) on a missing one fails the build, but a catalog table over a missing LOCATION
  reads as empty. So each file set is registered as an external table of the build's schema,
  re-pointed at the business date on every build (the dbt-external-tables way of declaring
  sources): a day with the files gives DuckDB's rows, a day without them an empty relation.
  Dropping an external table never deletes its files.
#}

{% macro spark_day_files(name, location, file_format, columns, options) -%}
  {%- set relation = target.schema ~ '.' ~ name -%}
  {%- if execute -%}
    {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- set option_sql = [] -%}
    {%- for key, value in options.items() -%}
      {%- do option_sql.append(key ~ " '" ~ value ~ "'") -%}
    {%- endfor -%}
    {%- do run_query(
        'create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ') using ' ~ file_format
        ~ ' options (' ~ option_sql | join(', ') ~ ") location '" ~ location ~ "'"
    ) -%}
  {%- endif -%}
  {{ return(relation) }}
{%- endmacro %}

{# The folder of the day's quality records, as planned (granary.pipeline.transform.plan_lake). #}
{% macro spark_bank_day_dir(kind) -%}
  {{ return(quality_plan()[kind ~ '_dir']) }}
{%- endmacro %}

{# results.json only (one JSON array): the day's directory also holds the Data Docs. #}
{% macro spark__quality_results() -%}
  {%- set relation = spark_day_files(
      'src_quality_expectation_results',
      spark_bank_day_dir('results'),
      'json',
      ['suite string', 'table_name string', 'expectation string', 'column_name string',
       'success boolean', 'unexpected_count bigint', 'rows_checked bigint'],
      {'multiLine': 'true', 'pathGlobFilter': 'results.json'}
  ) -%}
  (select
      suite,
      table_name,
      expectation,
      column_name,
      success,
      unexpected_count,
      rows_checked
   from {{ relation }})
{%- endmacro %}

{# One pretty-printed JSON object per cleaned table; `table` is the JSON key. #}
{% macro spark__reconciliation_results() -%}
  {%- set relation = spark_day_files(
      'src_quality_reconciliation',
      spark_bank_day_dir('reconciliation'),
      'json',
      ['`table` string', 'rows_in bigint', 'rows_clean bigint', 'rows_quarantined bigint'],
      {'multiLine': 'true', 'pathGlobFilter': '*.json'}
  ) -%}
  (select
      `table` as table_name,
      rows_in,
      rows_clean,
      rows_quarantined
   from {{ relation }})
{%- endmacro %}
