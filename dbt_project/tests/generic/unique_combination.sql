{# The model has at most one row per combination of the given columns (its grain). #}
{% test unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as rows_per_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
