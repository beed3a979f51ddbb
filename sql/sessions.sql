-- sessions: one row per investigation session (docs/frames.md, `sessions`).
--
-- Contract rules: the session belongs to the alert definition that the alerts table gives for
-- its (account_id, alert_event_id); duration = ts of its last event - ts of its start; n_events
-- counts every event in it (the alert_opened and a closing alert_resolved included); n_items the
-- dashboards opened and queries run in it. end_reason is the end_candidate of its last event
-- (see actions_classified.sql); resolved = it ended with its own alert_resolved.
-- No WITH clause: both views are cached, and Spark does not match a cached plan that holds a
-- CTE when the statement reading it has a WITH of its own.
--
-- Parameters: :classified_view, :alerts_view (IDENTIFIER), :end_resolved, reason names :r_*.
SELECT /*+ BROADCAST(firings) */
    s.session_id, s.account_id, s.user_id, s.alert_event_id,
    firings.alert_id, firings.alert_title, firings.severity, firings.fired_at,
    s.started_at, s.ended_at,
    CAST(unix_micros(s.ended_at) - unix_micros(s.started_at) AS DOUBLE) / 1000000 AS duration_s,
    s.end_reason = :end_resolved AS resolved,
    s.end_reason, s.n_events, s.n_items
FROM (
    SELECT
        session_id, account_id, user_id, alert_event_id,
        min(ts) AS started_at,
        max(ts) AS ended_at,
        max_by(end_candidate, struct(ts, event_id)) AS end_reason,
        count(*) AS n_events,
        count(item_type) AS n_items
    FROM IDENTIFIER(:classified_view)
    WHERE session_id IS NOT NULL
    GROUP BY session_id, account_id, user_id, alert_event_id
) AS s
JOIN (
    SELECT account_id, alert_event_id, alert_id, alert_title, severity, fired_at
    FROM IDENTIFIER(:alerts_view)
    WHERE reason IN (:r_fired_in_lookback, :r_fired_in_window)
) AS firings
    ON s.account_id = firings.account_id AND s.alert_event_id = firings.alert_event_id
