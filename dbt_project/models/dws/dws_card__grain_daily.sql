-- Bank cards per day, segment and member: the issuing branch, the customer's manager and village.

with

bank_card as (
    select * from {{ dwd_source('bank_card') }}
),

customer as (
    select * from {{ dwd_source('customer') }}
),

card_detail as (
    select
        -- keys
        cast(card.dt as date) as dt,
        card.customer_id,
        card.branch_id,
        customer.manager_id,
        customer.village_code,

        -- what modifiers filter on
        card.card_type,

        -- facts
        card.status,
        cast(card.issue_date as date) as issue_date
    from bank_card as card
    left join customer
        on customer.customer_id = card.customer_id and customer.dt = card.dt
),

card_segments as (
    {{ segment_rows('card_detail') }}
),

final as (
    select
        -- grain: day, segment, members
        {{ fact_keys() | join(', ') }},

        -- cards (stock)
        count(case when status = 'normal' then 1 end) as cards,

        -- issued on the day (flow)
        count(case when issue_date = dt then 1 end) as new_cards
    from card_segments
    group by {{ fact_keys() | join(', ') }}
)

select * from final
