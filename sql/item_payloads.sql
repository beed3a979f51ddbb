-- item_payloads: the session items with the raw payload of their event (the copy that won the
-- dedup: earliest dt, then smallest payload text), for the explode stage of the cluster step.
-- Only the raw rows whose event_id is an item's are grouped: the item ids are broadcast into the
-- join, so the table is never shuffled with all its payloads.
-- No WITH clause: :items_view reads cached views (see sessions.sql).
--
-- Parameters: :items_view, :actions_view (IDENTIFIER).
SELECT i.*, p.payload
FROM IDENTIFIER(:items_view) AS i
LEFT JOIN (
    SELECT /*+ BROADCAST(ids) */
        a.event_id,
        min_by(a.payload, named_struct('dt', a.dt, 'payload', a.payload)) AS payload
    FROM IDENTIFIER(:actions_view) AS a
    JOIN (SELECT DISTINCT event_id FROM IDENTIFIER(:items_view)) AS ids
        ON a.event_id = ids.event_id
    WHERE a.payload IS NOT NULL
    GROUP BY a.event_id
) AS p
    ON i.event_id = p.event_id
