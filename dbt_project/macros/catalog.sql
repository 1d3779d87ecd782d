{#
  The catalogs (granary/catalog/*.yaml) reach the SQL as seeds written by granary.catalog.
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
  The key columns every DWS fact model has, in this order: the day, the segment, and the member a row
  counts for at each grain below the bank (null where the fact has no such member).
#}
{% macro fact_keys() -%}
  {{ return(['dt', 'segment', 'customer_id', 'branch_id', 'manager_id', 'village_code']) }}
{%- endmacro %}

{#
  The members a fact row counts for: the key column of each grain. Every DWS fact model carries all
  four key columns (null where the fact has no such member) plus dt and segment.
#}
{% macro grain_key(grain, row) -%}
  {%- if grain == 'bank' -%}
    '{{ var('tenant') }}'
  {%- else -%}
    {%- set columns = {'branch': 'branch_id', 'manager': 'manager_id', 'village': 'village_code', 'customer': 'customer_id'} -%}
    cast({{ row }}.{{ columns[grain] }} as {{ dbt.type_string() }})
  {%- endif -%}
{%- endmacro %}

{#
  One row per (day, grain, member, measure, segment) from a fact model: every column that is not a
  key is a measure, summed to every grain the catalog gives the fact (seed indicator_fact_grain).
  One pass over the fact: each row is crossed with the grain and measure lists and a CASE picks the
  member and the value, so Spark plans one scan rather than grains × measures unions. Values stay exact
  decimals (6 places hold every measure) so both engines sum them to the same number.
#}
{% macro rollup_measures(model_name) -%}
  {%- set relation = ref(model_name) -%}
  {%- do ref('indicator_fact_grain') -%}  {#- recorded at parse time; read below at execution #}
  {%- set keys = fact_keys() -%}
  {%- if not execute -%}
  select cast(null as date) as dt, 'none' as grain, 'none' as grain_id, '{{ model_name }}' as fact,
         'none' as measure, 'ALL' as segment, cast(null as decimal(38, 6)) as value
  from {{ relation }} where 1 = 0
  {%- else -%}
  {%- set grains = catalog_rows('indicator_fact_grain', ['grain'], "fact = '" ~ model_name ~ "'") | map(attribute='grain') | list -%}
  {%- set measures = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- if column.name | lower not in keys -%}{%- do measures.append(column.name | lower) -%}{%- endif -%}
  {%- endfor -%}
  {%- if not grains or not measures -%}
    {{ exceptions.raise_compiler_error(model_name ~ ": no grains in the catalog or no measure columns") }}
  {%- endif -%}
  select * from (
  select
      fact_row.dt,
      grain_list.grain,
      case grain_list.grain
        {%- for g in grains %}
        when '{{ g }}' then {{ grain_key(g, 'fact_row') }}
        {%- endfor %}
      end as grain_id,
      '{{ model_name }}' as fact,
      measure_list.measure,
      fact_row.segment,
      sum(case measure_list.measure
        {%- for m in measures %}
        when '{{ m }}' then cast(fact_row.{{ m }} as decimal(38, 6))
        {%- endfor %}
      end) as value
  from {{ relation }} as fact_row
  cross join (
    {%- for g in grains %}
    select '{{ g }}' as grain{% if not loop.last %} union all{% endif %}
    {%- endfor %}
  ) as grain_list
  cross join (
    {%- for m in measures %}
    select '{{ m }}' as measure{% if not loop.last %} union all{% endif %}
    {%- endfor %}
  ) as measure_list
  group by 1, 2, 3, 4, 5, 6
  ) as rolled
  -- a row without a member at a grain (a customer with no village on file) counts only where it has one
  where grain_id is not null
  {%- endif -%}
{%- endmacro %}

{# Rows of the tag catalog: code and rule, for ads_customer_tag. #}
{% macro catalog_tags() -%}
  {{ return(catalog_rows('tag_catalog', ['tag_code', 'rule_sql'])) }}
{%- endmacro %}

{#
  A theme's indicators as one wide table for dashboards: one row per grain member, one column per
  indicator of the theme at that grain (the code without its grain, see indicators.wide_column).
  Columns come from the catalog seed, so a new indicator adds its column here by itself.
#}
{% macro theme_wide(theme) -%}
  {%- set columns = catalog_rows('indicator_catalog', ['distinct wide_column'], "theme = '" ~ theme ~ "'") -%}
  with

  indicator_value as (
      select * from {{ ref('ads_indicator_value') }}
  ),

  indicator_catalog as (
      select * from {{ ref('indicator_catalog') }}
  ),

  final as (
      select
          -- grain
          indicator_value.dt,
          indicator_value.grain,
          indicator_value.grain_id,

          -- one column per indicator
          {%- for c in columns %}
          max(case when catalog.wide_column = '{{ c[0] }}' then indicator_value.value end) as {{ c[0] }}{% if not loop.last %},{% endif %}
          {%- else %}
          cast(null as double) as no_indicator
          {%- endfor %}
      from indicator_value
      inner join indicator_catalog as catalog
          on catalog.indicator_code = indicator_value.indicator_code
      where catalog.theme = '{{ theme }}'
      group by indicator_value.dt, indicator_value.grain, indicator_value.grain_id
  )

  select * from final
{%- endmacro %}
