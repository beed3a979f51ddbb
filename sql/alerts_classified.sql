-- alerts_classified: one row per alerts row read, with the accounting reason it lands in.
--
-- Contract rules (docs/frames.md, alerts precedence; first applicable wins):
--   missing_required_field  null account_id, alert_event_id, alert_id or fired_at
--   duplicate               a losing copy of an alert_event_id: the copy from the earliest dt
--                           wins, then the smallest alert_id, then alert_title (NULL last), then
--                           account_id, fired_at, severity so that the winner is deterministic
--   before_window           fired_at <  :alerts_from
--   after_window            fired_at >= :window_end
--   fired_in_lookback       :alerts_from <= fired_at < :window_start
--   fired_in_window         :window_start <= fired_at < :window_end
-- The alerts table is small (one row per firing), so a plain window does the dedup.
-- No WITH clause: the result is cached, and Spark does not match a cached plan that holds a
-- CTE when a statement with its own WITH reads it (every reader would recompute it).
--
-- Parameters: :alerts_view (IDENTIFIER), :alerts_from, :window_start, :window_end (timestamps),
-- reason names :r_*.
SELECT
    account_id, alert_event_id, alert_id, alert_title, severity, fired_at,
    CASE
        WHEN NOT has_required THEN :r_missing_required
        WHEN copy_rank > 1 THEN :r_duplicate
        WHEN fired_at < :alerts_from THEN :r_before_window
        WHEN fired_at >= :window_end THEN :r_after_window
        WHEN fired_at < :window_start THEN :r_fired_in_lookback
        ELSE :r_fired_in_window
    END AS reason
FROM (
    SELECT
        src.*,
        row_number() OVER (
            PARTITION BY has_required, alert_event_id
            ORDER BY dt ASC NULLS LAST, alert_id, alert_title ASC NULLS LAST,
                     account_id, fired_at, severity ASC NULLS LAST
        ) AS copy_rank
    FROM (
        SELECT
            account_id, alert_event_id, alert_id, alert_title, severity, fired_at, dt,
            account_id IS NOT NULL AND alert_event_id IS NOT NULL
                AND alert_id IS NOT NULL AND fired_at IS NOT NULL AS has_required
        FROM IDENTIFIER(:alerts_view)
    ) AS src
) AS ranked
