-- actions_events: one row per actions row read, the raw payload replaced by the few fields the
-- sessions need, with the reasons that can be decided before sessionization.
--
-- Contract rules (docs/frames.md, actions precedence; first applicable wins):
--   pre_reason   missing_required_field (null event_id, account_id, ts or action; such rows are
--                not deduplicated) > duplicate > before_window / after_window > null_user_id.
--                Rows with a pre_reason take no part in sessions.
--   event_reason unknown_action > malformed_payload > missing_payload_field, for the rows without
--                a pre_reason. These rows still count for the idle gap and the duration, and an
--                alert_opened among them still ends the user's open session.
-- Dedup: duplicate event_ids count once; the copy from the earliest dt wins, then the smallest
-- payload text (NULL last), then ts, account_id, user_id (NULL last), action. Only the event_ids
-- of :duplicate_ids_view (broadcast) go through the payload-ordered window, so the full table is
-- never shuffled with its payloads.
-- Payload: parsed exactly once, here, by try_parse_json (NULL for text that is not JSON:
-- malformed, truncated, NULL); nothing after this statement sees the raw text. A field is
-- present when it is a non-empty JSON string. Required: alert_opened and alert_resolved
-- -> alert_event_id; dashboard_opened -> dashboard.id; query_run -> query.text. Optional (NULL
-- unless a non-empty JSON string): dashboard.title, query.language.
-- Item payload fields for the explode stage (rows that become items only; docs/frames.md):
--   panel_types     the panels' `type` values as text (an element without one gives NULL)
--   time_from/to    time_range.from / .to as text
--   filter_fields   the filters' `field` values as text
--   index           the query's index (a JSON string)
--   payload_shape   NULL, or the first field present with the wrong JSON type: 'panels',
--                   'time_range', 'filters' or 'index' (the explode stage quarantines the
--                   row's payload fields, the item stays). Types are tested by casts
--                   (array<variant>, a one-field struct for an object): schema_of_variant
--                   walks a whole array of objects and cost half of this statement.
--
-- Parameters: :actions_view, :duplicate_ids_view (IDENTIFIER), :window_start, :window_end
-- (timestamps), action names, item types :item_*, reason names :r_*.
WITH src AS (
    SELECT
        event_id, account_id, user_id, ts, action, payload, dt,
        event_id IS NOT NULL AND account_id IS NOT NULL
            AND ts IS NOT NULL AND action IS NOT NULL AS has_required
    FROM IDENTIFIER(:actions_view)
),
flagged AS (
    SELECT /*+ BROADCAST(dup) */
        src.*,
        src.has_required AND dup.event_id IS NOT NULL AS repeated
    FROM src
    LEFT JOIN IDENTIFIER(:duplicate_ids_view) AS dup
        ON src.event_id = dup.event_id
),
deduped AS (
    SELECT flagged.*, false AS losing_copy
    FROM flagged
    WHERE NOT repeated
    UNION ALL
    SELECT
        flagged.*,
        row_number() OVER (
            PARTITION BY event_id
            ORDER BY dt ASC NULLS LAST, payload ASC NULLS LAST, ts, account_id,
                     user_id ASC NULLS LAST, action
        ) > 1 AS losing_copy
    FROM flagged
    WHERE repeated
),
screened AS (
    SELECT
        deduped.*,
        CASE
            WHEN NOT has_required THEN :r_missing_required
            WHEN losing_copy THEN :r_duplicate
            WHEN ts < :window_start THEN :r_before_window
            WHEN ts >= :window_end THEN :r_after_window
            WHEN user_id IS NULL THEN :r_null_user
        END AS pre_reason,
        action IN (:alert_opened, :dashboard_opened, :query_run, :alert_resolved) AS known_action
    FROM deduped
),
parsed AS (
    SELECT
        event_id, account_id, user_id, ts, action, pre_reason, known_action,
        CASE WHEN pre_reason IS NULL AND known_action THEN try_parse_json(payload) END AS body
    FROM screened
),
located AS (
    SELECT
        event_id, account_id, user_id, ts, action, pre_reason, known_action, body,
        try_variant_get(body, '$.alert_event_id') AS v_alert_event_id,
        try_variant_get(body, '$.dashboard.id') AS v_dashboard_id,
        try_variant_get(body, '$.dashboard.title') AS v_dashboard_title,
        try_variant_get(body, '$.query.text') AS v_query_text,
        try_variant_get(body, '$.query.language') AS v_query_language,
        CASE WHEN action = :dashboard_opened THEN try_variant_get(body, '$.panels') END AS v_panels,
        CASE WHEN action = :dashboard_opened THEN try_variant_get(body, '$.time_range') END AS v_time_range,
        CASE WHEN action = :query_run THEN try_variant_get(body, '$.filters') END AS v_filters,
        CASE WHEN action = :query_run THEN try_variant_get(body, '$.index') END AS v_index
    FROM parsed
),
arrays AS (
    -- the panels and filters as arrays (NULL when not an array), cast once for both uses
    SELECT
        located.*,
        try_variant_get(v_panels, '$', 'array<variant>') AS a_panels,
        try_variant_get(v_filters, '$', 'array<variant>') AS a_filters
    FROM located
),
fields AS (
    SELECT
        event_id, account_id, user_id, ts, action, pre_reason, known_action,
        body IS NULL AS malformed,
        CASE WHEN schema_of_variant(v_alert_event_id) = 'STRING'
             THEN nullif(try_variant_get(v_alert_event_id, '$', 'string'), '') END AS f_alert_event_id,
        CASE WHEN schema_of_variant(v_dashboard_id) = 'STRING'
             THEN nullif(try_variant_get(v_dashboard_id, '$', 'string'), '') END AS f_dashboard_id,
        CASE WHEN schema_of_variant(v_dashboard_title) = 'STRING'
             THEN nullif(try_variant_get(v_dashboard_title, '$', 'string'), '') END AS f_dashboard_title,
        CASE WHEN schema_of_variant(v_query_text) = 'STRING'
             THEN nullif(try_variant_get(v_query_text, '$', 'string'), '') END AS f_query_text,
        CASE WHEN schema_of_variant(v_query_language) = 'STRING'
             THEN nullif(try_variant_get(v_query_language, '$', 'string'), '') END AS f_query_language,
        transform(a_panels,
                  p -> try_variant_get(p, '$.type', 'string')) AS f_panel_types,
        try_variant_get(v_time_range, '$.from', 'string') AS f_time_from,
        try_variant_get(v_time_range, '$.to', 'string') AS f_time_to,
        transform(a_filters,
                  f -> try_variant_get(f, '$.field', 'string')) AS f_filter_fields,
        try_variant_get(v_index, '$', 'string') AS f_index,
        CASE
            WHEN v_panels IS NOT NULL AND NOT is_variant_null(v_panels)
                 AND NOT coalesce(forall(a_panels, p -> try_variant_get(p, '$', 'struct<type:variant>') IS NOT NULL), false)
                 THEN 'panels'
            WHEN v_time_range IS NOT NULL AND NOT is_variant_null(v_time_range)
                 AND try_variant_get(v_time_range, '$', 'struct<from:variant>') IS NULL THEN 'time_range'
            WHEN v_filters IS NOT NULL AND NOT is_variant_null(v_filters)
                 AND NOT coalesce(forall(a_filters, f -> try_variant_get(f, '$', 'struct<field:variant>') IS NOT NULL), false)
                 THEN 'filters'
            WHEN v_index IS NOT NULL AND schema_of_variant(v_index) NOT IN ('VOID', 'STRING') THEN 'index'
        END AS f_payload_shape
    FROM arrays
),
judged AS (
    SELECT
        fields.*,
        CASE
            WHEN pre_reason IS NOT NULL THEN NULL
            WHEN NOT known_action THEN :r_unknown_action
            WHEN malformed THEN :r_malformed_payload
            WHEN CASE
                     WHEN action IN (:alert_opened, :alert_resolved) THEN f_alert_event_id
                     WHEN action = :dashboard_opened THEN f_dashboard_id
                     ELSE f_query_text
                 END IS NULL THEN :r_missing_payload_field
        END AS event_reason
    FROM fields
)
SELECT
    event_id, account_id, user_id, ts, action, pre_reason, event_reason,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action IN (:alert_opened, :alert_resolved)
         THEN f_alert_event_id END AS ref_alert_event_id,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL THEN
        CASE action WHEN :dashboard_opened THEN :item_dashboard WHEN :query_run THEN :item_query END
    END AS item_type,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL THEN
        CASE action WHEN :dashboard_opened THEN f_dashboard_id WHEN :query_run THEN f_query_text END
    END AS item_key,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :dashboard_opened
         THEN f_dashboard_title END AS item_title,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :query_run
         THEN f_query_language END AS query_language,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :dashboard_opened
         THEN f_panel_types END AS panel_types,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :dashboard_opened
         THEN f_time_from END AS time_from,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :dashboard_opened
         THEN f_time_to END AS time_to,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :query_run
         THEN f_filter_fields END AS filter_fields,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL AND action = :query_run
         THEN f_index END AS `index`,
    CASE WHEN pre_reason IS NULL AND event_reason IS NULL
         THEN f_payload_shape END AS payload_shape
FROM judged
