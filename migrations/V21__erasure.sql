-- Erasure (privacy/erase.rs): a person's data removed at their request or staff's. The
-- account row stays as a pseudonym (status 'deleted', no name, address, phone or IPs), since
-- the ledger, the audit log and the anonymous analytics rows refer to it by id.
--
-- One row per erased account: when, and when the S3 archive had been rewritten without the
-- account's records (privacy/archive.rs). `listed_at`: when the account went on the archive's
-- erasure list (s3://…/erasures/), which the Athena view applies at once.
CREATE TABLE erasures (
    user_id           uuid PRIMARY KEY REFERENCES users (id),
    erased_at         timestamptz NOT NULL DEFAULT now(),
    listed_at         timestamptz,
    archive_purged_at timestamptz
);
CREATE INDEX erasures_unlisted_idx ON erasures (erased_at) WHERE listed_at IS NULL;
CREATE INDEX erasures_unpurged_idx ON erasures (erased_at) WHERE archive_purged_at IS NULL;

-- The archive rewrite in progress (one at most): when this pass over the bucket began and
-- the last object it finished. An erasure made before the pass began (with a margin for
-- Firehose's buffer) is purged from the archive once the pass reaches the end.
CREATE TABLE archive_rewrite (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    started_at  timestamptz NOT NULL DEFAULT now(),
    after_key   text NOT NULL DEFAULT '',
    objects     bigint NOT NULL DEFAULT 0,
    rewritten   bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- `doc` with every occurrence of each of `needles` inside its strings (values and keys)
-- replaced by `mask`: a person's details taken out of the documents kept about them (audit
-- rows, webhook events), the rest of each document left as it was.
CREATE FUNCTION erase_text(s text, needles text[], mask text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    n text;
BEGIN
    FOREACH n IN ARRAY needles LOOP
        s := replace(s, n, mask);
    END LOOP;
    RETURN s;
END
$$;

-- PL/pgSQL, as a SQL function could not call itself (its body is checked at creation).
CREATE FUNCTION erase_values(doc jsonb, needles text[], mask text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN CASE jsonb_typeof(doc)
        WHEN 'object' THEN (SELECT coalesce(jsonb_object_agg(erase_text(k, needles, mask), erase_values(v, needles, mask)), '{}'::jsonb)
                            FROM jsonb_each(doc) AS e(k, v))
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(erase_values(v, needles, mask) ORDER BY i), '[]'::jsonb)
                           FROM jsonb_array_elements(doc) WITH ORDINALITY AS a(v, i))
        WHEN 'string' THEN to_jsonb(erase_text(doc #>> '{}', needles, mask))
        ELSE doc
    END;
END
$$;
