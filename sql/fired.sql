-- fired: one row per (account_id, alert_id) with a firing in [window_start, window_end)
-- (docs/frames.md, `fired`): the number of such firings, the latest fired_at, and the title of
-- the latest firing (ties broken by the greatest alert_event_id). No WITH clause: the view is
-- cached (see sessions.sql).
--
-- Parameters: :alerts_view (IDENTIFIER), :r_fired_in_window.
SELECT
    account_id, alert_id,
    max_by(alert_title, struct(fired_at, alert_event_id)) AS alert_title,
    count(*) AS n_firings,
    max(fired_at) AS last_fired_at
FROM IDENTIFIER(:alerts_view)
WHERE reason = :r_fired_in_window
GROUP BY account_id, alert_id
