-- A/B experiments. A user's variant is computed, never stored to decide: the bucket is
-- SHA-256 of `seed:user id`, so the seed is made once at creation and never changes.
CREATE TABLE experiments (
    id                  uuid PRIMARY KEY,
    key                 text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
    name                text NOT NULL,
    description         text,
    seed                text NOT NULL,
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'active', 'paused', 'completed')),
    -- [{name, weight, config}], the control first; checked by the API (2–10, unique names,
    -- positive weights summing to 1 or 100).
    variants            jsonb NOT NULL,
    metric_event        text NOT NULL,
    metric_window_hours integer NOT NULL CHECK (metric_window_hours BETWEEN 1 AND 720),
    -- {roles?, onboardingSteps?, referred?}; an absent key targets everyone.
    targeting           jsonb NOT NULL DEFAULT '{}'::jsonb,
    start_date          timestamptz,
    end_date            timestamptz CHECK (end_date IS NULL OR start_date IS NULL OR end_date > start_date),
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at          timestamptz,
    completed_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experiments_status_idx ON experiments (status, created_at DESC);

-- Who was shown which variant, first. The assignment gives a user one variant for good, so
-- a user has one row per experiment; the variant is part of the key so that a second one
-- (data imported, a split edited by hand) is kept and seen, and the results exclude them.
CREATE TABLE experiment_exposures (
    experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    variant       text NOT NULL,
    exposed_at    timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment_id, user_id, variant)
);
CREATE INDEX experiment_exposures_user_idx ON experiment_exposures (user_id);
