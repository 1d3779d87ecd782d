-- The risk theme's indicators, one row per grain member and one column per indicator (for dashboards).

{{ theme_wide('risk') }}
