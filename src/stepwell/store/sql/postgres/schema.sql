-- The whole current schema in one file, to read at a glance. A test builds it and the
-- numbered migrations in separate databases and checks that the two come out the same.
-- Stepwell schema, PostgreSQL. Records travel as JSON text; only what is searched or
-- leased on has its own column. Times are epoch seconds.
CREATE TABLE state_machines (
    arn TEXT PRIMARY KEY,
    record TEXT NOT NULL
);

-- Every change is announced on the channel stepwell_machines: stores cache the records
-- they read while they listen there (store/postgres.py, ``StateMachineCache``).
CREATE FUNCTION state_machines_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM pg_notify('stepwell_machines', '');
    RETURN NULL;
END
$body$;

CREATE TRIGGER state_machines_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON state_machines
FOR EACH STATEMENT EXECUTE FUNCTION state_machines_changed();

CREATE TABLE executions (
    arn TEXT PRIMARY KEY,
    state_machine_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    start_date DOUBLE PRECISION NOT NULL,
    record TEXT NOT NULL,
    state BYTEA,
    version INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_date);

CREATE TABLE history_events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
);

CREATE TABLE work_items (
    id BIGSERIAL PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BYTEA NOT NULL,
    due DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX work_items_due ON work_items (queue, due, id);
CREATE INDEX work_items_by_execution ON work_items (execution_arn, due);

CREATE TABLE task_tokens (
    token TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    activity_arn TEXT,
    status TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX task_tokens_by_activity ON task_tokens (activity_arn, status, created);
CREATE INDEX task_tokens_by_execution ON task_tokens (execution_arn);

CREATE TABLE activities (
    arn TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
-- Documents of the embedded services (DynamoDB-like tables, SQS-like queues, SNS-like
-- topics, schedules): opaque values by namespace and key.
CREATE TABLE documents (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (namespace, key)
);
