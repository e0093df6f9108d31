-- Named queries that only PostgreSQL runs: each is one statement, so the work path
-- costs one round trip per statement, and a batch of them costs one round trip in all
-- (psycopg's pipeline mode). They replace the shared queries' several-statement
-- transactions (find, then lock, then read) with data-modifying CTEs; the rows they
-- touch are locked FOR UPDATE SKIP LOCKED so concurrent workers never wait on one
-- another. Same ":name" parameters as sql/queries.sql.

-- name: insert_event
-- Positional, as the shared query (sql/queries.sql), in psycopg's placeholders.
INSERT INTO history_events (execution_arn, id, event) VALUES (%s, %s, %s)

-- name: lease_executions
-- Executions with work due and no live lease, leased to :owner; one row per due item.
-- Without :arn: up to :limit executions, oldest due work first, found among the first
-- :scan due items (more than :limit: an execution may have several, another worker may
-- be leasing some). With :arn:
-- that execution, if it has work due and no live lease but one :owner holds.
-- Every part of a statement reads the snapshot taken when it began, but a row locked
-- FOR UPDATE is the latest one: if a step of the execution was committed in between,
-- ``seen_version`` (the snapshot's) differs from ``version`` (the locked row's), the
-- items read may be consumed already, and the store leases the execution without items
-- (it is stepped empty, which releases it). A lease that finds nothing says instead
-- when work is next due, so an idle worker needs no second round trip (``next_due``).
WITH due AS (
    SELECT e.arn, w.due, w.id FROM work_items w JOIN executions e ON e.arn = w.execution_arn
    WHERE CAST(:arn AS text) IS NULL
      AND w.queue = 'execution' AND w.due <= :now AND e.lease_expires < :now
    ORDER BY w.due, w.id
    LIMIT :scan
), oldest AS (  -- each execution's first due item
    SELECT DISTINCT ON (arn) arn, due, id FROM due ORDER BY arn, due, id
), picked AS (  -- only the executions leased are locked; those others lock are skipped
    SELECT e.arn FROM executions e JOIN oldest o ON o.arn = e.arn
    WHERE e.lease_expires < :now
    ORDER BY o.due, o.id
    LIMIT :limit
    FOR UPDATE OF e SKIP LOCKED
), named AS (
    SELECT arn FROM executions
    WHERE arn = :arn AND (lease_expires < :now OR lease_owner = :owner)
      AND EXISTS (SELECT 1 FROM work_items w
                  WHERE w.execution_arn = :arn AND w.queue = 'execution' AND w.due <= :now)
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE executions SET lease_owner = :owner, lease_expires = :until
    WHERE arn IN (SELECT arn FROM picked UNION ALL SELECT arn FROM named)
    RETURNING arn, record, state, version
)
SELECT l.arn, l.record, l.state, l.version, w.id, w.kind, w.payload, w.due,
       (SELECT s.version FROM executions s WHERE s.arn = l.arn) AS seen_version
FROM leased l LEFT JOIN LATERAL (
    SELECT id, kind, payload, due FROM work_items
    WHERE execution_arn = l.arn AND kind <> 'invoke' AND due <= :now  -- by ARN, not by due
) w ON TRUE
UNION ALL  -- nothing leased: a row with no ARN, whose due is next_due_by_queue's answer
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, LEAST(
    (SELECT MIN(due) FROM work_items WHERE queue = 'execution'),
    (SELECT MIN(due) FROM work_items WHERE queue = 'invoke' AND lease_expires < :now)
), NULL
WHERE NOT EXISTS (SELECT 1 FROM leased)
ORDER BY 8, 5

-- name: commit_step
-- A step's whole outcome, written only if the execution still has the version :owner
-- leased (``done`` is empty otherwise, and so is every insert and delete gated on it).
-- Sub-statements share one snapshot: tokens of an execution that ends are not passed
-- in, rather than inserted and deleted here.
WITH done AS (
    UPDATE executions
    SET record = :record, status = :status, state = :state, version = version + 1,
        lease_owner = NULL, lease_expires = 0
    WHERE arn = :arn AND version = :version AND lease_owner = :owner
    RETURNING arn
), events AS (
    INSERT INTO history_events (execution_arn, id, event)
    SELECT done.arn, e.id, e.event
    FROM done, unnest(CAST(:event_ids AS INTEGER[]), CAST(:events AS TEXT[])) AS e (id, event)
), consumed AS (
    DELETE FROM work_items
    WHERE id = ANY(CAST(:done_items AS BIGINT[])) AND EXISTS (SELECT 1 FROM done)
), added AS (
    INSERT INTO work_items (execution_arn, queue, kind, payload, due)
    SELECT i.execution_arn, i.queue, i.kind, i.payload, i.due
    FROM done, unnest(
        CAST(:item_arns AS TEXT[]), CAST(:item_queues AS TEXT[]), CAST(:item_kinds AS TEXT[]),
        CAST(:item_payloads AS BYTEA[]), CAST(:item_dues AS DOUBLE PRECISION[])
    ) AS i (execution_arn, queue, kind, payload, due)
), tokens AS (
    INSERT INTO task_tokens (token, execution_arn, activity_arn, status, created, record)
    SELECT t.token, t.execution_arn, t.activity_arn, t.status, t.created, t.record
    FROM done, unnest(
        CAST(:token_ids AS TEXT[]), CAST(:token_arns AS TEXT[]),
        CAST(:token_activities AS TEXT[]), CAST(:token_statuses AS TEXT[]),
        CAST(:token_created AS DOUBLE PRECISION[]), CAST(:token_records AS TEXT[])
    ) AS t (token, execution_arn, activity_arn, status, created, record)
), ended AS (
    DELETE FROM task_tokens
    WHERE execution_arn = :arn AND CAST(:ended AS BOOLEAN) AND EXISTS (SELECT 1 FROM done)
)
SELECT count(*) FROM done

-- name: lease_invocations
UPDATE work_items SET lease_owner = :owner, lease_expires = :until
WHERE id IN (
    SELECT id FROM work_items
    WHERE queue = 'invoke' AND due <= :now AND lease_expires < :now
    ORDER BY due, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
RETURNING id, execution_arn, kind, payload, due

-- name: create_execution
-- The execution and its first item, unless one with that ARN exists: the count says
-- whether it was inserted, the record is the one that was there before.
WITH inserted AS (
    INSERT INTO executions (arn, state_machine_arn, status, start_date, record, lease_owner,
                            lease_expires)
    VALUES (:arn, :state_machine_arn, :status, :start_date, :record, :lease_owner,
            :lease_expires)
    ON CONFLICT (arn) DO NOTHING
    RETURNING arn
), first AS (
    INSERT INTO work_items (execution_arn, queue, kind, payload, due)
    SELECT inserted.arn, :queue, :kind, :payload, :due FROM inserted
)
SELECT (SELECT count(*) FROM inserted), (SELECT record FROM executions WHERE arn = :arn),
       (SELECT count(*) FROM (SELECT pg_notify(:channel, 'execution') FROM inserted) AS told)

-- name: next_due_by_queue
-- The shared next_due's OR cannot use an index; each half here reads one index entry
-- (due execution work) or the invoke queue's due order.
SELECT LEAST(
    (SELECT MIN(due) FROM work_items WHERE queue = 'execution'),
    (SELECT MIN(due) FROM work_items WHERE queue = 'invoke' AND lease_expires < :now)
)

-- name: documents_get
SELECT key, value FROM documents
WHERE namespace = :namespace AND key = ANY(CAST(:keys AS TEXT[]))
