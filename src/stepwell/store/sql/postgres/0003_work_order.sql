-- Due work in the order the batched lease reads it (sql/postgres/queries.sql): oldest
-- first, ties by id, straight from the index with no sort.
DROP INDEX work_items_due;
CREATE INDEX work_items_due ON work_items (queue, due, id);
