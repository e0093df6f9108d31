-- Named queries shared by the SQL stores. ":name" parameters; the PostgreSQL store
-- rewrites them to its own style. "{lock}" becomes FOR UPDATE SKIP LOCKED there and
-- nothing on SQLite, where a write transaction already excludes other writers.

-- name: insert_state_machine
INSERT INTO state_machines (arn, record) VALUES (:arn, :record)

-- name: replace_state_machine
UPDATE state_machines SET record = :record WHERE arn = :arn

-- name: get_state_machine
SELECT record FROM state_machines WHERE arn = :arn

-- name: list_state_machines
SELECT record FROM state_machines ORDER BY arn

-- name: delete_state_machine
DELETE FROM state_machines WHERE arn = :arn

-- name: insert_execution
INSERT INTO executions (arn, state_machine_arn, status, start_date, record, lease_owner,
                        lease_expires)
VALUES (:arn, :state_machine_arn, :status, :start_date, :record, :lease_owner, :lease_expires)
ON CONFLICT (arn) DO NOTHING

-- name: insert_stepped_execution
-- A new execution with its first step taken (``create_execution``'s ``step``): the row
-- as the step leaves it, unleased, in one statement.
INSERT INTO executions (arn, state_machine_arn, status, start_date, record, state, version,
                        lease_owner, lease_expires)
VALUES (:arn, :state_machine_arn, :status, :start_date, :record, :state, 1, NULL, 0)
ON CONFLICT (arn) DO NOTHING

-- name: get_execution
SELECT record FROM executions WHERE arn = :arn

-- name: list_executions
SELECT record FROM executions
WHERE (CAST(:machine AS TEXT) IS NULL OR state_machine_arn = :machine)
  AND (CAST(:status AS TEXT) IS NULL OR status = :status)
ORDER BY start_date DESC, arn

-- name: history
SELECT event FROM history_events WHERE execution_arn = :arn ORDER BY id

-- name: insert_event
-- Positional parameters (execution_arn, id, event): SQLite binds a tuple faster than a
-- dict. ``event`` is one event or a JSON array of a run of them, ``id`` the first's
-- (``sql.event_rows``). PostgreSQL has its own (postgres/queries.sql).
INSERT INTO history_events (execution_arn, id, event) VALUES (?, ?, ?)

-- name: insert_item
INSERT INTO work_items (execution_arn, queue, kind, payload, due)
VALUES (:execution_arn, :queue, :kind, :payload, :due)

-- name: delete_item
DELETE FROM work_items WHERE id = :id

-- name: find_leasable_execution
SELECT e.arn FROM work_items w JOIN executions e ON e.arn = w.execution_arn
WHERE w.queue = 'execution' AND w.due <= :now
  AND (e.lease_expires < :now
       OR (e.lease_owner = :owner AND CAST(:arn AS TEXT) IS NOT NULL))
  AND (CAST(:arn AS TEXT) IS NULL OR e.arn = :arn)
ORDER BY w.due, w.id
LIMIT 1
{lock_executions}

-- name: take_execution_lease
UPDATE executions SET lease_owner = :owner, lease_expires = :until WHERE arn = :arn

-- name: leased_execution
SELECT record, state, version FROM executions WHERE arn = :arn

-- name: due_items
SELECT id, execution_arn, kind, payload, due FROM work_items
WHERE execution_arn = :arn AND queue = 'execution' AND due <= :now
ORDER BY due, id

-- name: commit_execution
UPDATE executions
SET record = :record, status = :status, state = :state, version = version + 1,
    lease_owner = NULL, lease_expires = 0
WHERE arn = :arn AND version = :version AND lease_owner = :owner

-- name: commit_unleased_execution
-- A step computed from the execution as read, with no lease taken: written only if it
-- still has that version and nobody has leased it since (a live lease, or a back-off).
UPDATE executions
SET record = :record, status = :status, state = :state, version = version + 1,
    lease_owner = NULL, lease_expires = 0
WHERE arn = :arn AND version = :version AND lease_expires < :now

-- name: peek_execution
-- The execution unless leased, with its due items (as ``due_items``) in one read: a row
-- for each item, or one with no item (NULLs) when none is due.
SELECT e.record, e.state, e.version, w.id, w.execution_arn, w.kind, w.payload, w.due
FROM executions e
LEFT JOIN work_items w
  ON w.execution_arn = e.arn AND w.queue = 'execution' AND w.due <= :now
WHERE e.arn = :arn AND e.lease_expires < :now
ORDER BY w.due, w.id

-- name: read_execution_version
SELECT record, version FROM executions WHERE arn = :arn

-- name: reopen_execution
-- Only the version the caller read (``read_execution_version``) is reopened.
UPDATE executions
SET record = :record, status = :status, state = :state, version = version + 1,
    lease_owner = NULL, lease_expires = 0
WHERE arn = :arn AND version = :version

-- name: delete_execution_items
DELETE FROM work_items WHERE execution_arn = :arn

-- name: release_execution
UPDATE executions SET lease_owner = NULL, lease_expires = :retry_at
WHERE arn = :arn AND lease_owner = :owner

-- name: find_invocations
SELECT id, execution_arn, kind, payload, due FROM work_items
WHERE queue = 'invoke' AND due <= :now AND lease_expires < :now
ORDER BY due, id
LIMIT :limit
{lock_items}

-- name: take_item_lease
UPDATE work_items SET lease_owner = :owner, lease_expires = :until WHERE id = :id

-- name: finish_invocation
DELETE FROM work_items WHERE id = :id AND lease_owner = :owner

-- name: next_due
-- Each half reads the start of one queue in due order (work_items_due): one OR over both
-- could use no index, and read every waiting timer on every idle round of every thread.
SELECT MIN(due) FROM (
    SELECT MIN(due) AS due FROM work_items WHERE queue = 'execution'
    UNION ALL
    SELECT MIN(due) AS due FROM work_items WHERE queue = 'invoke' AND lease_expires < :now
) AS heads

-- name: insert_token
INSERT INTO task_tokens (token, execution_arn, activity_arn, status, created, record)
VALUES (:token, :execution_arn, :activity_arn, :status, :created, :record)

-- name: get_token
SELECT record, status FROM task_tokens WHERE token = :token

-- name: delete_token
DELETE FROM task_tokens WHERE token = :token

-- name: delete_execution_tokens
DELETE FROM task_tokens WHERE execution_arn = :arn

-- name: find_activity_task
SELECT token FROM task_tokens
WHERE activity_arn = :activity AND status = 'SCHEDULED'
ORDER BY created
LIMIT 1
{lock_tokens}

-- name: start_activity_task
UPDATE task_tokens SET status = 'STARTED' WHERE token = :token

-- name: insert_activity
INSERT INTO activities (arn, record) VALUES (:arn, :record)

-- name: replace_activity
UPDATE activities SET record = :record WHERE arn = :arn

-- name: get_activity
SELECT record FROM activities WHERE arn = :arn

-- name: list_activities
SELECT record FROM activities ORDER BY arn

-- name: delete_activity
DELETE FROM activities WHERE arn = :arn

-- name: any_due_execution_work
SELECT 1 FROM work_items WHERE queue = 'execution' AND due <= :now LIMIT 1

-- name: any_due_invocation
SELECT 1 FROM work_items WHERE queue = 'invoke' AND due <= :now AND lease_expires < :now LIMIT 1

-- name: document_get
SELECT value FROM documents WHERE namespace = :namespace AND key = :key

-- name: document_delete
DELETE FROM documents WHERE namespace = :namespace AND key = :key

-- name: document_insert
INSERT INTO documents (namespace, key, value) VALUES (:namespace, :key, :value)

-- name: document_scan
SELECT key, value FROM documents
WHERE namespace = :namespace AND substr(key, 1, :prefix_length) = :prefix
