-- Each customer's tags for the business date: one row per customer and tag that holds.
-- The rules are the SQL booleans of the tag catalog (seed tag_catalog), over dws_customer__daily.

with

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

run_date as (
    select {{ run_date() }} as run_dt
),

customers_on_run_date as (
    select customer_daily.*
    from customer_daily
    inner join run_date on customer_daily.dt = run_date.run_dt
),

-- one select per catalogued tag, its rule rendered from the catalog
tag_hits as (
    {%- for tag in catalog_tags() %}
    select dt, customer_id, '{{ tag["tag_code"] }}' as tag_code
    from customers_on_run_date as customer  -- the alias keeps Spark from reading `where` as one
    where ({{ tag["rule_sql"] }})
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select dt, customer_id, cast(null as {{ dbt.type_string() }}) as tag_code
    from customers_on_run_date
    where 1 = 0
    {%- endfor %}
),

final as (
    select
        tag_hits.dt,
        tag_hits.customer_id,
        tag_hits.tag_code,
        tag_catalog.name_zh as tag_name_zh,
        tag_catalog.category_zh
    from tag_hits
    inner join tag_catalog
        on tag_catalog.tag_code = tag_hits.tag_code
)

select * from final
