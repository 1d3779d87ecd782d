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

{#
  The days of the lake's history a build of ads_indicator_value reads, besides the business date,
  each with the condition on the rows it needs: the grains whose windows read that day (the
  customer grain, the bulk of a day, only has day, month and year-to-date windows).
#}
{% macro period_history_days(bounds) -%}
  {%- set grains_of = {} -%}
  {%- for row in catalog_rows('indicator_catalog', ['distinct window_type', 'window_days', 'grain'], "kind = 'derived'") -%}
    {%- do grains_of.setdefault((row[0], row[1]), []).append(row[2]) -%}
  {%- endfor -%}
  {%- set needed = {} -%}
  {%- for b in bounds -%}
    {%- for day in [b['start_before_dt'], b['base_dt'] if b['has_base_day'] else none] if day -%}
      {%- for grain in grains_of.get((b['window_type'], b['window_days']), []) -%}
        {%- if grain not in needed.setdefault(day, []) -%}{%- do needed[day].append(grain) -%}{%- endif -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set days = {} -%}
  {%- for day in needed | sort -%}
    {%- do days.update({day: "grain in ('" ~ (needed[day] | sort | join("', '")) ~ "')"}) -%}
  {%- endfor -%}
  {{ return(days) }}
{%- endmacro %}

{# The column of `prefix`<n> for the day in `day_expr` (n: its place in `days`), or null. #}
{% macro history_on(day_expr, days, prefix) -%}
  {%- if days -%}
  case {{ day_expr }}
  {%- for day in days %}
    when {{ date_literal(day) }} then {{ prefix }}{{ loop.index }}
  {%- endfor %}
  end
  {%- else -%}
  cast(null as decimal(38, 6))
  {%- endif -%}
{%- endmacro %}

{# date or none as a SQL literal #}
{% macro date_literal(day) -%}
  {%- if day -%}cast('{{ day }}' as date){%- else -%}cast(null as date){%- endif -%}
{%- endmacro %}

{#
  A member's total over its window in ads_indicator_value's `windowed` row: the running total on
  the business date less the one on the last lake day before the window. A member the history no
  longer carries on the business date (unseen for over a year) has nothing in the window.
#}
{% macro window_total() -%}
  case when run_cum is null then 0 else run_cum - coalesce(start_before_cum, 0) end
{%- endmacro %}
