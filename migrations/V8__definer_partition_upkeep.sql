-- Partition upkeep without DDL rights: the application logs in with a DML-only role, so
-- the scheduler makes and drops the monthly events partitions through these functions,
-- which run with their owner's (the migrating role's) rights and accept nothing but a
-- partition name of the expected shape.
CREATE FUNCTION growstack_ensure_events_partition(part text, from_day date, to_day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF part !~ '^events_y[0-9]{4}m[0-9]{2}$' THEN
        RAISE EXCEPTION 'not an events partition name: %', part;
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', part, from_day, to_day);
EXCEPTION WHEN duplicate_table OR unique_violation THEN
    NULL; -- made by a concurrent run
END $$;

CREATE FUNCTION growstack_drop_events_partition(part text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF part !~ '^events_y[0-9]{4}m[0-9]{2}$' THEN
        RAISE EXCEPTION 'not an events partition name: %', part;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %I', part);
END $$;

REVOKE ALL ON FUNCTION growstack_ensure_events_partition(text, date, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION growstack_drop_events_partition(text) FROM PUBLIC;
