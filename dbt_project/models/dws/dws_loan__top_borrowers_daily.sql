-- The 10 largest borrowers' total balance, per day, for the bank and for each branch. Not additive:
-- the bank's top 10 are ranked over the bank, a branch's over the balances booked at that branch.
-- Rows are already in the long form of dws_measure__grain_daily.

with

loan as (
    select * from {{ dwd_source('loan') }}
),

balance_by_branch_borrower as (
    select
        cast(dt as date) as dt,
        branch_id,
        customer_id,
        sum(balance) as balance
    from loan
    where balance > 0
    group by cast(dt as date), branch_id, customer_id
),

balance_by_borrower as (
    select dt, customer_id, sum(balance) as balance
    from balance_by_branch_borrower
    group by dt, customer_id
),

ranked_in_bank as (
    select
        dt,
        balance,
        row_number() over (partition by dt order by balance desc, customer_id) as borrower_rank
    from balance_by_borrower
),

ranked_in_branch as (
    select
        dt,
        branch_id,
        balance,
        row_number() over (partition by dt, branch_id order by balance desc, customer_id) as borrower_rank
    from balance_by_branch_borrower
),

final as (
    select
        dt,
        'bank' as grain,
        '{{ var("tenant") }}' as grain_id,
        '{{ this.identifier }}' as fact,
        'top10_borrower_balance' as measure,
        'ALL' as segment,
        cast(sum(balance) as decimal(38, 6)) as value
    from ranked_in_bank
    where borrower_rank <= 10
    group by dt
    union all
    select
        dt,
        'branch' as grain,
        cast(branch_id as {{ dbt.type_string() }}) as grain_id,
        '{{ this.identifier }}' as fact,
        'top10_borrower_balance' as measure,
        'ALL' as segment,
        cast(sum(balance) as decimal(38, 6)) as value
    from ranked_in_branch
    where borrower_rank <= 10
    group by dt, branch_id
)

select * from final
