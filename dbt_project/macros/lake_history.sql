{#
  The lake's day history of the models that chain from one day to the next (tagged `lake_history`):
  each is an Iceberg table named as its model, and a build reads back only the few days it needs
  (the previous day, a period's start, a comparison's base day), never a year. granary transform
  writes the business date's rows of every such model once the whole build passed
  (granary/pipeline/dws_history.py); nothing here writes.

  Which days the lake holds is given in GRANARY_DBT_LAKE_DAYS (the days before the business date
  with a committed history, newest last): an env var, like the business date, so dbt re-parses only
  what reads it. Where each day's rows are is the build's lake plan (macros/dwd_source.sql).
#}

{% macro lake_days() -%}
  {%- set listed = env_var('GRANARY_DBT_LAKE_DAYS', '') -%}
  {%- set days = [] -%}
  {%- for day in listed.split(',') if day -%}
    {%- do days.append(modules.datetime.date.fromisoformat(day)) -%}
  {%- endfor -%}
  {{ return(days | sort) }}
{%- endmacro %}

{# The newest lake day before the business date, or none: the day a chained model continues from. #}
{% macro previous_lake_day() -%}
  {%- set earlier = lake_days() | select('lt', modules.datetime.date.fromisoformat(business_date())) | list -%}
  {{ return(earlier[-1] if earlier else none) }}
{%- endmacro %}

{#
  A history model's rows on the given days, as a subquery with `dt`. columns: (name, type) pairs
  other than dt, cast on read so every day (written by either engine) has one schema.
  where: optionally, per day, a condition on the rows wanted from that day. A model the lake has
  no table for yet (new to the project) reads as empty.
#}
{% macro lake_history(model_name, days, columns, where=none) -%}
  {%- set plan = planned_table('history', model_name) -%}
  (
  {%- for day in days | unique | sort if plan or not execute %}
  select cast('{{ day }}' as date) as dt
    {%- for name, type in columns %}, cast({{ name }} as {{ type }}) as {{ name }}{% endfor %}
  from {{ history_day(plan, day) }} as history_file
  {%- if where and where.get(day) %}
  where {{ where[day] }}
  {%- endif %}
  union all
  {%- endfor %}
  select cast(null as date) as dt
    {%- for name, type in columns %}, cast(null as {{ type }}) as {{ name }}{% endfor %}
  where 1 = 0
  )
{%- endmacro %}

{# One day of a planned history table (its rows keep their own columns; build_dt is the day). #}
{% macro history_day(plan, day) -%}
  {{ return(adapter.dispatch('history_day', 'granary')(plan, day | string)) }}
{%- endmacro %}

{% macro duckdb__history_day(plan, day) -%}
  {{ planned_files(plan, day, day) }}
{%- endmacro %}

{% macro spark__history_day(plan, day) -%}
  {%- if plan -%}
  (select * from {{ plan['spark'] }} where {{ plan['day_column'] }} = date'{{ day }}')
  {%- else -%}
  unplanned
  {%- endif -%}
{%- endmacro %}

{% macro default__history_day(plan, day) -%}
  {{ exceptions.raise_compiler_error("no lake reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__history_day macro") }}
{%- endmacro %}

{# The columns of dws_measure__history other than dt, as the readers cast them. #}
{% macro measure_history_columns() -%}
  {{ return([
    ('grain', dbt.type_string()), ('grain_id', dbt.type_string()), ('fact', dbt.type_string()),
    ('measure', dbt.type_string()), ('segment', dbt.type_string()),
    ('value', 'decimal(38, 6)'), ('cum_value', 'decimal(38, 6)'), ('last_dt', 'date'),
  ]) }}
{%- endmacro %}

{# The columns of ads_customer_tag_history the next day's chain reads. #}
{% macro tag_history_columns() -%}
  {{ return([
    ('customer_id', dbt.type_string()), ('tag_code', dbt.type_string()), ('gained_dt', 'date'),
    ('lost_dt', 'date'), ('last_held_dt', 'date'), ('days_held', dbt.type_bigint()),
    ('held_since_window_start', dbt.type_boolean()), ('is_current', dbt.type_boolean()),
  ]) }}
{%- endmacro %}

{#
  The external records still current on the business date, chained from the previous lake day: the
  day's records of a DWD table (they arrive on some days only) together with those kept yesterday,
  reduced to the newest per `key` by `order_by` (the profile's own "latest record" ordering), and
  records over a year old dropped. The customer profile then reads one day of each, whatever the
  lake holds. Columns are the DWD table's, `dt` the day a record arrived.
#}
{% macro external_known(table, key, order_by) -%}
  {%- set previous_day = previous_lake_day() -%}
  {%- set columns = [] -%}
  {%- if execute -%}
    {%- set probe = run_query('select * from ' ~ dwd_source(table) ~ ' as probe where 1 = 0') -%}
    {%- for name in probe.column_names -%}{%- do columns.append(name | lower) -%}{%- endfor -%}
  {%- else -%}
    {%- do columns.append('dt') -%}
  {%- endif -%}
  with

  arrived as (
      select {{ columns | join(', ') }} from {{ dwd_source(table) }} as arrived_today
  ),

  kept as (
      {%- set kept_plan = planned_table('history', this.identifier) %}
      {%- if previous_day and kept_plan %}
      select {{ columns | join(', ') }}
      from {{ history_day(kept_plan, previous_day) }} as kept_file
      {%- else %}
      select * from arrived where 1 = 0
      {%- endif %}
  ),

  known as (
      select * from arrived
      union all
      select * from kept
      where cast(dt as date) >= {{ add_days(run_date(), -366) }}
  ),

  ranked as (
      select
          known.*,
          row_number() over (partition by {{ key | join(', ') }} order by {{ order_by }}) as recency
      from known
  )

  select
      {%- for name in columns %}
      {% if name == 'dt' %}cast(dt as date) as dt{% else %}{{ name }}{% endif %}{% if not loop.last %},{% endif %}
      {%- endfor %}
  from ranked
  where recency = 1
{%- endmacro %}
