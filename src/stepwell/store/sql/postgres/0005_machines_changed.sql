-- Every change to the state machines is announced on the channel stepwell_machines,
-- by whichever client makes it: a store caches the records it reads while it listens
-- there, and forgets them at the next notice (store/postgres.py, ``StateMachineCache``).
CREATE FUNCTION state_machines_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM pg_notify('stepwell_machines', '');
    RETURN NULL;
END
$body$;

CREATE TRIGGER state_machines_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON state_machines
FOR EACH STATEMENT EXECUTE FUNCTION state_machines_changed();
