{# The five-category loan classification, ordered from best to worst (standard codes, codes.yaml). #}

{% macro five_class_rank(column) -%}
  case {{ column }}
    when 'normal' then 1
    when 'special_mention' then 2
    when 'substandard' then 3
    when 'doubtful' then 4
    when 'loss' then 5
  end
{%- endmacro %}

{% macro five_class_from_rank(column) -%}
  case {{ column }}
    when 1 then 'normal'
    when 2 then 'special_mention'
    when 3 then 'substandard'
    when 4 then 'doubtful'
    when 5 then 'loss'
  end
{%- endmacro %}

{# Non-performing: substandard, doubtful or loss. #}
{% macro is_npl(column) -%}
  {{ column }} in ('substandard', 'doubtful', 'loss')
{%- endmacro %}
