-- Every measure of every branch-daily fact as one long table: the input the indicator catalog
-- is computed from (fact + measure + segment name a column of a DWS model, see indicator_catalog).

with

loan_measures as (
    {{ unpivot_measures('dws_loan__branch_daily', ['dt', 'branch_id', 'segment']) }}
),

deposit_measures as (
    {{ unpivot_measures('dws_deposit__branch_daily', ['dt', 'branch_id', 'segment']) }}
),

customer_measures as (
    {{ unpivot_measures('dws_customer__branch_daily', ['dt', 'branch_id', 'segment']) }}
),

final as (
    select * from loan_measures
    union all
    select * from deposit_measures
    union all
    select * from customer_measures
)

select * from final
