-- session_items: one row per dashboard opened / query run inside a session (docs/frames.md,
-- `items`), seq 0-based in (ts, event_id) order among the session's items (item_seq of
-- actions_classified.sql: no window here), offset_s = seconds
-- since the session's start; the item's payload fields (actions_events.sql) for the explode stage. alert_id is the session's definition from the alerts table.
-- No WITH clause: both views are cached (see sessions.sql).
--
-- Parameters: :classified_view, :alerts_view (IDENTIFIER), reason names :r_*.
SELECT /*+ BROADCAST(firings) */
    c.session_id, c.account_id, c.user_id, firings.alert_id,
    c.item_seq AS seq,
    c.event_id, c.ts,
    CAST(unix_micros(c.ts) - c.session_start_us AS DOUBLE) / 1000000 AS offset_s,
    c.item_type, c.item_key, c.item_title, c.query_language,
    c.panel_types, c.time_from, c.time_to, c.filter_fields, c.`index`, c.payload_shape
FROM IDENTIFIER(:classified_view) AS c
JOIN (
    SELECT account_id, alert_event_id, alert_id
    FROM IDENTIFIER(:alerts_view)
    WHERE reason IN (:r_fired_in_lookback, :r_fired_in_window)
) AS firings
    ON c.account_id = firings.account_id AND c.alert_event_id = firings.alert_event_id
WHERE c.session_id IS NOT NULL AND c.item_type IS NOT NULL
