-- sessions: one row per investigation session (docs/frames.md, `sessions`).
--
-- Contract rules: the session belongs to the alert definition that the alerts table gives for
-- its (account_id, alert_event_id); duration = ts of its last event - ts of its start; n_events
-- counts every event in it (the alert_opened and a closing alert_resolved included); n_items the
-- dashboards opened and queries run in it. end_reason is the end_candidate of its last event
-- (see actions_classified.sql); resolved = it ended with its own alert_resolved. The row of the
-- session's last event carries its counts (actions_classified.sql), so nothing is aggregated.
-- No WITH clause: both views are cached, and Spark does not match a cached plan that holds a
-- CTE when the statement reading it has a WITH of its own.
--
-- Parameters: :classified_view, :alerts_view (IDENTIFIER), :end_resolved, reason names :r_*.
SELECT /*+ BROADCAST(firings) */
    c.session_id, c.account_id, c.user_id, c.alert_event_id,
    firings.alert_id, firings.alert_title, firings.severity, firings.fired_at,
    timestamp_micros(c.session_start_us) AS started_at,
    c.ts AS ended_at,
    CAST(unix_micros(c.ts) - c.session_start_us AS DOUBLE) / 1000000 AS duration_s,
    c.end_candidate = :end_resolved AS resolved,
    c.end_candidate AS end_reason,
    c.session_n_events AS n_events,
    c.session_n_items AS n_items
FROM IDENTIFIER(:classified_view) AS c
JOIN (
    SELECT account_id, alert_event_id, alert_id, alert_title, severity, fired_at
    FROM IDENTIFIER(:alerts_view)
    WHERE reason IN (:r_fired_in_lookback, :r_fired_in_window)
) AS firings
    ON c.account_id = firings.account_id AND c.alert_event_id = firings.alert_event_id
WHERE c.ends_session
