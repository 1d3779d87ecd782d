{#
  The lake's day history of the models that chain from one day to the next (tagged `lake_history`):
  each build appends the business date's rows as one Parquet partition,
  <lake_root>/<tenant>/dws/<model>/dt=<YYYY-MM-DD>/, and the next build reads back only the few
  partitions it needs (the previous day, a period's start, a comparison's base day), never a year.

  Which days the lake holds is given by granary/pipeline/transform.py in GRANARY_DBT_LAKE_DAYS (the
  days before the business date with a complete history, newest last): an env var, like the
  business date, so dbt re-parses only what reads it. The post-hook writes the model to
  <lake_root>/<tenant>/dws/.<model>.dt=<day>.building; transform moves it in as the day's partition
  only when the whole build passed.
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

{% macro history_path(model_name) -%}
  {{ return(var('lake_root') ~ '/' ~ var('tenant') ~ '/dws/' ~ model_name) }}
{%- endmacro %}

{#
  A history model's rows on the given days, as a subquery with `dt`. columns: (name, type) pairs
  other than dt, cast on read so every partition (written by either engine) has one schema.
  where: optionally, per day, a condition on the rows wanted from that day.
#}
{% macro lake_history(model_name, days, columns, where=none) -%}
  (
  {%- for day in days | unique | sort %}
  select cast('{{ day }}' as date) as dt
    {%- for name, type in columns %}, cast({{ name }} as {{ type }}) as {{ name }}{% endfor %}
  from {{ adapter.dispatch('history_files', 'granary')(history_path(model_name) ~ '/dt=' ~ day) }} as history_file
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

{% macro duckdb__history_files(partition) -%}
  read_parquet('{{ partition }}/*.parquet', hive_partitioning = false)
{%- endmacro %}

{% macro spark__history_files(partition) -%}
  parquet.`{{ partition }}`
{%- endmacro %}

{% macro default__history_files(partition) -%}
  {{ exceptions.raise_compiler_error("no Parquet reader for adapter '" ~ adapter.type() ~ "'; add a <adapter>__history_files macro") }}
{%- endmacro %}

{# Post-hook of a history model: its rows beside their partition (readers take dt from the partition). #}
{% macro write_lake_history() -%}
  {%- set staging = var('lake_root') ~ '/' ~ var('tenant') ~ '/dws/.' ~ this.identifier ~ '.dt=' ~ business_date() ~ '.building' -%}
  {{ return(adapter.dispatch('write_lake_history', 'granary')(staging)) }}
{%- endmacro %}

{% macro duckdb__write_lake_history(staging) -%}
  copy {{ this }} to '{{ staging }}' (format parquet, per_thread_output true, overwrite true)
{%- endmacro %}

{% macro spark__write_lake_history(staging) -%}
  insert overwrite directory '{{ staging }}' using parquet select * from {{ this }}
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
      {%- if previous_day %}
      select {{ columns | join(', ') }}
      from {{ adapter.dispatch('history_files', 'granary')(history_path(this.identifier) ~ '/dt=' ~ previous_day) }} as kept_file
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
