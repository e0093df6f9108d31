-- Documents of the embedded services (DynamoDB-like tables, SQS-like queues, SNS-like
-- topics, schedules): opaque values by namespace and key.
CREATE TABLE documents (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
);
