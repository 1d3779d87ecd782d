-- Every measure of every fact, summed to every grain the catalog gives the fact: the one long table
-- the indicators are computed from (fact + measure + segment name a column of a DWS model, see the
-- seed indicator_catalog). A new fact model is listed here once; its measures and grains are data.

with

loan as (
    {{ rollup_measures('dws_loan__grain_daily') }}
),

deposit as (
    {{ rollup_measures('dws_deposit__grain_daily') }}
),

customer as (
    {{ rollup_measures('dws_customer__grain_daily') }}
),

transaction_measures as (
    {{ rollup_measures('dws_transaction__grain_daily') }}
),

ebank as (
    {{ rollup_measures('dws_ebank__grain_daily') }}
),

credit_line as (
    {{ rollup_measures('dws_credit_line__grain_daily') }}
),

card as (
    {{ rollup_measures('dws_card__grain_daily') }}
),

repayment as (
    {{ rollup_measures('dws_repayment__grain_daily') }}
),

grid as (
    {{ rollup_measures('dws_grid__grain_daily') }}
),

village as (
    {{ rollup_measures('dws_village__grain_daily') }}
),

-- already summed per member: ranks are not additive
top_borrowers as (
    select * from {{ ref('dws_loan__top_borrowers_daily') }}
),

final as (
    select * from loan
    union all select * from deposit
    union all select * from customer
    union all select * from transaction_measures
    union all select * from ebank
    union all select * from credit_line
    union all select * from card
    union all select * from repayment
    union all select * from grid
    union all select * from village
    union all select * from top_borrowers
)

select * from final
