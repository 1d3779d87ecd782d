{#
  Where each period of the catalog starts and what it compares with, for the business date and
  the days the lake holds (lake_days()). One row per window of the catalog (window_type and
  window_days, seed indicator_catalog):
  - start_before_dt: the last lake day before the window starts (null when none): the window's
    total is the running total on the business date minus the running total on that day;
  - days_with_data: the lake days in the window, the business date included (averages divide by it);
  - base_dt: the day a comparison reads, and has_base_day whether the lake holds it (no value if not).
  Computed here, once, so a build reads only those days of the history.
#}
{% macro period_bounds() -%}
  {%- set windows = catalog_rows('indicator_catalog', ['distinct window_type', 'window_days'], "kind = 'derived'") -%}
  {%- set dt = modules.datetime -%}
  {%- set run = dt.date.fromisoformat(business_date()) -%}
  {%- set held = lake_days() | select('lt', run) | list + [run] -%}
  {%- set month_start = run.replace(day=1) -%}
  {%- set year_start = run.replace(month=1, day=1) -%}
  {%- set bounds = [] -%}
  {%- for w in windows -%}
    {%- set kind, n = w[0], w[1] -%}
    {%- set start = {
      'month_to_date': month_start,
      'quarter_to_date': run.replace(month=((run.month - 1) // 3) * 3 + 1, day=1),
      'year_to_date': year_start,
      'last_n_days': run - dt.timedelta(days=((n or 1) | int) - 1),
    }.get(kind, run) -%}
    {%- set base = {
      'change_since_month_start': month_start - dt.timedelta(days=1),
      'change_since_year_start': year_start - dt.timedelta(days=1),
      'year_start_value': year_start - dt.timedelta(days=1),
      'change_year_on_year': run.replace(year=run.year - 1, day=(28 if run.month == 2 and run.day == 29 else run.day)),
    }.get(kind) -%}
    {%- set before = held | select('lt', start) | list -%}
    {%- do bounds.append({
      'window_type': kind,
      'window_days': n,
      'start_before_dt': before[-1] if before else none,
      'days_with_data': held | select('ge', start) | list | length,
      'base_dt': base,
      'has_base_day': base is none or base in held,
    }) -%}
  {%- endfor -%}
  {{ return(bounds) }}
{%- endmacro %}

{# The days of the lake's history a build of ads_indicator_value reads, besides the business date. #}
{% macro period_history_days(bounds) -%}
  {%- set days = [] -%}
  {%- for b in bounds -%}
    {%- if b['start_before_dt'] -%}{%- do days.append(b['start_before_dt']) -%}{%- endif -%}
    {%- if b['base_dt'] and b['has_base_day'] -%}{%- do days.append(b['base_dt']) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(days | unique | sort) }}
{%- endmacro %}

{# date or none as a SQL literal #}
{% macro date_literal(day) -%}
  {%- if day -%}cast('{{ day }}' as date){%- else -%}cast(null as date){%- endif -%}
{%- endmacro %}

{#
  A member's total over its window in ads_indicator_value's `windowed` rows: the running total on
  the business date less the one on the last lake day before the window. A member the history no
  longer carries on the business date (unseen for over a year) has nothing in the window.
#}
{% macro window_total() -%}
  case when count(case when dt = run_dt then 1 end) = 0 then 0
       else sum(case when dt = run_dt then cum_value end)
            - coalesce(sum(case when dt = start_before_dt then cum_value end), 0)
  end
{%- endmacro %}
