{#
  The catalogs (dbt_project/catalog/*.yaml) reach the SQL as seeds written by granary.catalog.
  Rules stored there as SQL text (modifier filters, tag rules) are rendered into the models at
  execution time; at parse time these macros return nothing, and ref() records the dependency.
#}

{% macro catalog_rows(seed_name, columns, where=none) -%}
  {%- set relation = ref(seed_name) -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set query -%}
    select {{ columns | join(', ') }} from {{ relation }}
    {% if where %}where {{ where }}{% endif %}
    order by 1
  {%- endset -%}
  {{ return(run_query(query).rows) }}
{%- endmacro %}

{#
  A fact's detail rows once as segment 'ALL', plus once per modifier of this fact (named by the
  model) for the rows the modifier's filter keeps. Summaries grouped by segment then give every
  modifier's measure without a model per modifier.
#}
{% macro segment_rows(detail) -%}
  {%- set modifiers = catalog_rows('indicator_modifier', ['modifier_code', 'filter_sql'], "fact = '" ~ model.name ~ "'") -%}
  {#- the explicit alias matters: Spark reads `from t where (x)` as t aliased `where` with column list (x) #}
  select 'ALL' as segment, detail_row.* from {{ detail }} as detail_row
  {%- for m in modifiers %}
  union all
  select '{{ m["modifier_code"] }}' as segment, detail_row.* from {{ detail }} as detail_row where ({{ m["filter_sql"] }})
  {%- endfor %}
{%- endmacro %}

{#
  One row per (keys, measure) from a wide summary: every column that is not a key is a measure.
  Columns are read from the built relation, so a new measure column needs no change here.
#}
{% macro unpivot_measures(model_name, keys) -%}
  {%- set relation = ref(model_name) -%}
  {%- if not execute -%}
  select {{ keys | join(', ') }}, '{{ model_name }}' as fact, 'none' as measure, cast(null as double) as value
  from {{ relation }} where 1 = 0
  {%- else -%}
  {%- set measures = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- if column.name | lower not in keys -%}{%- do measures.append(column.name | lower) -%}{%- endif -%}
  {%- endfor -%}
  {%- for measure in measures %}
  select {{ keys | join(', ') }}, '{{ model_name }}' as fact, '{{ measure }}' as measure, cast({{ measure }} as double) as value
  from {{ relation }}
  {% if not loop.last %}union all{% endif %}
  {%- endfor -%}
  {%- endif -%}
{%- endmacro %}

{# Rows of the tag catalog: code and rule, for ads_customer_tag. #}
{% macro catalog_tags() -%}
  {{ return(catalog_rows('tag_catalog', ['tag_code', 'rule_sql'])) }}
{%- endmacro %}
