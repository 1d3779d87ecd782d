{# Date helpers: the only place DuckDB and Spark date arithmetic differ. #}

{# The business date this build is for, YYYY-MM-DD. An environment variable, not a --vars entry:
   dbt re-parses the whole project whenever --vars change (every day), but only the files that
   read an env var when its value changes; granary/pipeline/transform.py sets it. #}
{% macro business_date() -%}
  {{ return(env_var('GRANARY_DBT_DT')) }}
{%- endmacro %}

{% macro run_date() -%}
  cast('{{ business_date() }}' as date)
{%- endmacro %}

{% macro add_days(date_expr, days_expr) -%}
  {{ return(adapter.dispatch('add_days', 'granary')(date_expr, days_expr)) }}
{%- endmacro %}

{% macro default__add_days(date_expr, days_expr) -%}
  date_add({{ date_expr }}, {{ days_expr }})
{%- endmacro %}

{% macro duckdb__add_days(date_expr, days_expr) -%}
  cast({{ date_expr }} + cast({{ days_expr }} as integer) as date)
{%- endmacro %}

{% macro days_between(start_expr, end_expr) -%}
  {{ return(adapter.dispatch('days_between', 'granary')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__days_between(start_expr, end_expr) -%}
  datediff({{ end_expr }}, {{ start_expr }})
{%- endmacro %}

{% macro duckdb__days_between(start_expr, end_expr) -%}
  date_diff('day', {{ start_expr }}, {{ end_expr }})
{%- endmacro %}

{# First day of the month / year of a date, as a date on every adapter. #}
{% macro first_day(datepart, date_expr) -%}
  cast({{ dbt.date_trunc(datepart, date_expr) }} as date)
{%- endmacro %}

{# Completed years between a birth date and a day (portable: no adapter-specific age()). #}
{% macro age_in_years(birth_expr, at_expr) -%}
  (extract(year from {{ at_expr }}) - extract(year from {{ birth_expr }})
    - case
        when extract(month from {{ at_expr }}) * 100 + extract(day from {{ at_expr }})
           < extract(month from {{ birth_expr }}) * 100 + extract(day from {{ birth_expr }})
        then 1 else 0
      end)
{%- endmacro %}
