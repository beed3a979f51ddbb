-- actions_classified: the investigation sessions. One row per actions row read (the rows of
-- :events_view), with its final accounting reason and, for the rows inside a session, the
-- session they belong to.
--
-- Contract rules ("Investigation sessions"):
--   * The timeline of a user is every event of (account_id, user_id) without a pre_reason, in
--     (ts, event_id) order, whatever its action and even if its payload could not be parsed.
--   * Every alert_opened of the timeline starts a new segment (and so ends the open session).
--     A segment is a session when its alert_opened has a valid payload naming a known firing of
--     the same account (:alerts_view rows fired_in_lookback or fired_in_window); any other
--     alert_opened is an orphan and its segment holds no session.
--   * A session keeps the events of its segment up to the first of: a gap of more than
--     :idle_us since the previous timeline event (the event after the gap is out); an event
--     later than start + :max_us (one at exactly start + :max_us is in); the alert_resolved of
--     the session's own firing (it is in, nothing after it is).
--   * end_candidate: the end_reason the session would have if this event were its last; the
--     sessions statement takes it from the last event. resolved if this is the own
--     alert_resolved; otherwise, with t the ts of the user's next timeline event (or
--     :window_end when there is none): if t is within both limits, next_alert_opened (or
--     window_end); else the limit reached first, idle (last ts + :idle_us) or max (start +
--     :max_us), idle_timeout on a tie.
--   * reason: event_reason > orphan_alert_opened > in_session > outside_session; rows with a
--     pre_reason keep it.
-- The window only carries narrow columns (no payload: the few item fields of the explode stage
-- were taken from the one parse in actions_events.sql); the partitioning by (account_id,
-- user_id) serves both windows, the segment window only re-sorts. The result is cached for
-- sessions.sql, session_items.sql and accounting.sql, which therefore have no WITH clause.
--
-- Parameters: :events_view, :alerts_view (IDENTIFIER), :window_end (timestamp), :idle_us and
-- :max_us (microseconds), action names, end reasons :end_*, reason names :r_*.
WITH timeline AS (
    SELECT
        events.*,
        unix_micros(ts) AS t_us,
        action = :alert_opened AS is_open
    FROM IDENTIFIER(:events_view) AS events
    WHERE pre_reason IS NULL
),
known_firings AS (
    SELECT account_id, alert_event_id
    FROM IDENTIFIER(:alerts_view)
    WHERE reason IN (:r_fired_in_lookback, :r_fired_in_window)
),
opened AS (
    SELECT /*+ BROADCAST(firing) */
        timeline.*,
        timeline.is_open AND firing.alert_event_id IS NOT NULL AS starts_session
    FROM timeline
    LEFT JOIN known_firings AS firing
        ON timeline.is_open
        AND timeline.account_id = firing.account_id
        AND timeline.ref_alert_event_id = firing.alert_event_id
),
segmented AS (
    SELECT
        opened.*,
        sum(CASE WHEN is_open THEN 1 ELSE 0 END) OVER user_so_far AS segment,
        t_us - lag(t_us) OVER user_order AS gap_us,
        lead(t_us) OVER user_order AS next_t_us
    FROM opened
    WINDOW
        user_order AS (PARTITION BY account_id, user_id ORDER BY ts, event_id),
        user_so_far AS (PARTITION BY account_id, user_id ORDER BY ts, event_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
headed AS (
    SELECT
        segmented.*,
        first_value(starts_session) OVER segment_so_far AS session_segment,
        first_value(event_id) OVER segment_so_far AS head_event_id,
        first_value(ref_alert_event_id) OVER segment_so_far AS head_alert_event_id,
        first_value(t_us) OVER segment_so_far AS head_t_us
    FROM segmented
    WINDOW segment_so_far AS (PARTITION BY account_id, user_id, segment ORDER BY ts, event_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
limited AS (
    SELECT
        headed.*,
        session_segment AND event_id <> head_event_id
            AND (gap_us > :idle_us OR t_us - head_t_us > :max_us) AS breaks,
        session_segment AND action = :alert_resolved AND event_reason IS NULL
            AND ref_alert_event_id = head_alert_event_id AS resolves
    FROM headed
),
cut AS (
    SELECT
        limited.*,
        session_segment
            AND NOT bool_or(breaks) OVER segment_so_far
            AND NOT coalesce(bool_or(resolves) OVER segment_before, false) AS in_session
    FROM limited
    WINDOW
        segment_so_far AS (PARTITION BY account_id, user_id, segment ORDER BY ts, event_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
        segment_before AS (PARTITION BY account_id, user_id, segment ORDER BY ts, event_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
sequenced AS (
    -- the item's 0-based position among its session's items (a session is a prefix of its
    -- segment, so the segment's order is the session's): session_items.sql needs no window
    SELECT
        cut.*,
        sum(CASE WHEN in_session AND item_type IS NOT NULL THEN 1 ELSE 0 END) OVER segment_so_far - 1 AS item_seq,
        -- the session's counts so far, and whether this is its last event (sessions.sql takes
        -- that row: no aggregation, no shuffle by session)
        sum(CASE WHEN in_session THEN 1 ELSE 0 END) OVER segment_so_far AS events_so_far,
        sum(CASE WHEN in_session AND item_type IS NOT NULL THEN 1 ELSE 0 END) OVER segment_so_far AS items_so_far,
        in_session AND NOT coalesce(lead(in_session) OVER segment_order, false) AS ends_session
    FROM cut
    WINDOW
        segment_so_far AS (PARTITION BY account_id, user_id, segment ORDER BY ts, event_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
        segment_order AS (PARTITION BY account_id, user_id, segment ORDER BY ts, event_id)
),
sessionized AS (
    SELECT
        sequenced.*,
        coalesce(next_t_us, unix_micros(:window_end)) AS horizon_us
    FROM sequenced
)
SELECT
    event_id, account_id, user_id, ts, action,
    CASE
        WHEN event_reason IS NOT NULL THEN event_reason
        WHEN is_open AND NOT starts_session THEN :r_orphan_open
        WHEN in_session THEN :r_in_session
        ELSE :r_outside_session
    END AS reason,
    CASE WHEN in_session THEN head_event_id END AS session_id,
    CASE WHEN in_session THEN head_alert_event_id END AS alert_event_id,
    CASE WHEN in_session THEN head_t_us END AS session_start_us,
    CASE
        WHEN NOT in_session THEN NULL
        WHEN resolves THEN :end_resolved
        WHEN horizon_us - t_us <= :idle_us AND horizon_us - head_t_us <= :max_us THEN
            CASE WHEN next_t_us IS NULL THEN :end_window ELSE :end_next_open END
        WHEN t_us + :idle_us <= head_t_us + :max_us THEN :end_idle
        ELSE :end_max_duration
    END AS end_candidate,
    CASE WHEN in_session THEN item_type END AS item_type,
    CASE WHEN in_session AND item_type IS NOT NULL THEN item_seq END AS item_seq,
    coalesce(ends_session, false) AS ends_session,
    CASE WHEN ends_session THEN events_so_far END AS session_n_events,
    CASE WHEN ends_session THEN items_so_far END AS session_n_items,
    CASE WHEN in_session THEN item_key END AS item_key,
    CASE WHEN in_session THEN item_title END AS item_title,
    CASE WHEN in_session THEN query_language END AS query_language,
    CASE WHEN in_session THEN panel_types END AS panel_types,
    CASE WHEN in_session THEN time_from END AS time_from,
    CASE WHEN in_session THEN time_to END AS time_to,
    CASE WHEN in_session THEN filter_fields END AS filter_fields,
    CASE WHEN in_session THEN `index` END AS `index`,
    CASE WHEN in_session THEN payload_shape END AS payload_shape
FROM sessionized
UNION ALL
SELECT
    event_id, account_id, user_id, ts, action,
    pre_reason AS reason,
    CAST(NULL AS STRING) AS session_id,
    CAST(NULL AS STRING) AS alert_event_id,
    CAST(NULL AS BIGINT) AS session_start_us,
    CAST(NULL AS STRING) AS end_candidate,
    CAST(NULL AS STRING) AS item_type,
    CAST(NULL AS BIGINT) AS item_seq,
    false AS ends_session,
    CAST(NULL AS BIGINT) AS session_n_events,
    CAST(NULL AS BIGINT) AS session_n_items,
    CAST(NULL AS STRING) AS item_key,
    CAST(NULL AS STRING) AS item_title,
    CAST(NULL AS STRING) AS query_language,
    CAST(NULL AS ARRAY<STRING>) AS panel_types,
    CAST(NULL AS STRING) AS time_from,
    CAST(NULL AS STRING) AS time_to,
    CAST(NULL AS ARRAY<STRING>) AS filter_fields,
    CAST(NULL AS STRING) AS `index`,
    CAST(NULL AS STRING) AS payload_shape
FROM IDENTIFIER(:events_view)
WHERE pre_reason IS NOT NULL
