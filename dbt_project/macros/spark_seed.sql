{#
  dbt-spark's session cursor substitutes seed values into the SQL as '%s' without escaping quotes,
  so a seed holding SQL text (modifier filters, tag rules) breaks the insert. This override of the
  adapter's own macro renders escaped literals instead. DuckDB loads seeds natively and is unaffected.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set batch_size = get_batch_size() -%}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(batch_size) -%}
    {%- set sql -%}
      insert into {{ this.render() }} values
      {% for row in chunk -%}
        ({%- for col_name in agate_table.column_names -%}
          {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
          {%- set type = column_override.get(col_name, inferred_type) -%}
          cast({{ spark_seed_literal(row[loop.index0]) }} as {{ type }})
          {%- if not loop.last %}, {% endif -%}
        {%- endfor -%})
        {%- if not loop.last %},{% endif %}
      {% endfor %}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.index0 == 0 -%}{%- do statements.append(sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(statements[0]) }}
{% endmacro %}

{% macro spark_seed_literal(value) -%}
  {%- if value is none -%}
    null
  {%- elif value is number or value is boolean -%}
    {{ value }}
  {%- else -%}
    '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
  {%- endif -%}
{%- endmacro %}
