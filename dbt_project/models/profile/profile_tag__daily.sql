-- Every tag each customer holds on every lake day: the rules of the tag catalog (seed tag_catalog)
-- over dws_customer__daily, evaluated in one pass (each customer-day paired with every tag code, a
-- CASE over the codes picks the rule). The daily snapshot and the tag history both read this.

with

customer_daily as (
    select * from {{ ref('dws_customer__daily') }}
),

tag_catalog as (
    select * from {{ ref('tag_catalog') }}
),

tag_codes as (
    select tag_code from tag_catalog
),

-- the alias `customer` keeps the rules' bare column names unambiguous (tag_codes has only tag_code)
tag_hits as (
    select
        customer.dt,
        customer.customer_id,
        tag_codes.tag_code
    from customer_daily as customer
    cross join tag_codes
    where {{ tag_rule_case('tag_codes.tag_code') }}
)

select * from tag_hits
