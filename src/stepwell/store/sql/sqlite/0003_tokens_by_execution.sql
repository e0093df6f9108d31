-- The task tokens of one execution: an execution that ends deletes its tokens, which
-- without this index read every waiting token (a scan that grew with the number of
-- executions waiting for a callback).
CREATE INDEX task_tokens_by_execution ON task_tokens (execution_arn);
