{#- What publish copies to a bank's serving schema: every model tagged `publish` (dbt_project.yml
    tags the ADS layer so). Recorded in the warehouse at the end of each build, so publish reads
    the dbt project's own word instead of guessing from table names. -#}
{% macro record_publish_manifest() -%}
  {{ return(adapter.dispatch('record_publish_manifest', 'granary')()) }}
{%- endmacro %}

{% macro default__record_publish_manifest() -%}
  select 1
{%- endmacro %}

{% macro duckdb__record_publish_manifest() -%}
  {%- set rows = [] -%}
  {%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and 'publish' in node.tags -%}
      {%- do rows.append("('" ~ node.schema ~ "', '" ~ node.alias ~ "')") -%}
    {%- endfor -%}
  {%- endif -%}
  create or replace table {{ target.schema }}.publish_manifest (table_schema varchar, table_name varchar);
  {%- if rows %}
  insert into {{ target.schema }}.publish_manifest values {{ rows | join(', ') }};
  {%- endif %}
{%- endmacro %}
