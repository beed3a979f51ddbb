-- accounting: rows read per (dataset, reason). Every row of both datasets carries exactly one
-- reason (alerts_classified.sql, actions_classified.sql), so the counts add up to the rows read;
-- the stage maps reasons to buckets and adds the reasons that no row has. No WITH clause: both
-- views are cached (see sessions.sql).
--
-- Parameters: :alerts_view, :classified_view (IDENTIFIER), :dataset_alerts, :dataset_actions.
SELECT :dataset_alerts AS dataset, reason, count(*) AS rows
FROM IDENTIFIER(:alerts_view)
GROUP BY reason
UNION ALL
SELECT :dataset_actions AS dataset, reason, count(*) AS rows
FROM IDENTIFIER(:classified_view)
GROUP BY reason
