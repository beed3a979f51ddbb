-- actions_duplicate_ids: the event_ids that occur more than once among the rows that have every
-- required field (rows missing one are quarantined before the dedup and never take part in it).
--
-- Only these rows need the payload-ordered dedup of actions_events.sql; the set is small, is
-- grouped on event_id alone (no payload in this shuffle) and is broadcast there.
--
-- Parameters: :actions_view (IDENTIFIER).
SELECT event_id
FROM IDENTIFIER(:actions_view)
WHERE event_id IS NOT NULL AND account_id IS NOT NULL AND ts IS NOT NULL AND action IS NOT NULL
GROUP BY event_id
HAVING count(*) > 1
