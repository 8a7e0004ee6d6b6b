"""The DuckDB schema, as an append-only list of numbered migrations.

Never edit a migration that has shipped: append a new one. Each runs once per database, in
order, inside the transaction that records it in ``schema_migrations``.
"""

from __future__ import annotations

import duckdb

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE datasets (
            name        VARCHAR PRIMARY KEY,
            kind        VARCHAR NOT NULL,
            path        VARCHAR,
            config      JSON NOT NULL,          -- limit, seed, size, channels, variant ...
            classes     JSON NOT NULL,          -- class names, in index order
            n_items     INTEGER NOT NULL,
            height      INTEGER NOT NULL,
            width       INTEGER NOT NULL,
            channels    INTEGER NOT NULL,
            cache_file  VARCHAR NOT NULL,       -- relative to the workspace
            content_sha256 VARCHAR NOT NULL,    -- over every item's sha256, in index order
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE items (
            dataset VARCHAR NOT NULL,
            idx     INTEGER NOT NULL,           -- row in the dataset's image cache
            key     VARCHAR NOT NULL,           -- what a person writes in a label CSV
            split   VARCHAR,                    -- official split ('train'/'test') or NULL
            class   VARCHAR,
            sha256  VARCHAR NOT NULL,
            PRIMARY KEY (dataset, idx),
            UNIQUE (dataset, key)
        );
        CREATE TABLE subjects (
            name       VARCHAR PRIMARY KEY,
            kind       VARCHAR NOT NULL,        -- 'human' or 'simulated'
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE simulations (
            subject    VARCHAR NOT NULL,
            dataset    VARCHAR NOT NULL,
            rule       VARCHAR NOT NULL,
            noise      DOUBLE NOT NULL,
            repeat     DOUBLE NOT NULL,
            seed       INTEGER NOT NULL,
            session    VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (subject, dataset)
        );
        CREATE SEQUENCE label_id_seq START 1;
        CREATE TABLE labels (
            id          BIGINT PRIMARY KEY DEFAULT nextval('label_id_seq'),
            subject     VARCHAR NOT NULL,
            dataset     VARCHAR NOT NULL,
            item_idx    INTEGER NOT NULL,
            preferred   BOOLEAN,                -- NULL when the trial timed out
            rt_ms       DOUBLE,
            deadline_ms DOUBLE,
            timed_out   BOOLEAN NOT NULL DEFAULT false,
            session     VARCHAR NOT NULL,
            block       INTEGER,
            trial       INTEGER,
            shown_at    TIMESTAMP,
            region      DOUBLE[],               -- the subject's reason: [x0, y0, x1, y1] in fractions
            repeat_of   BIGINT,                 -- the label this trial repeats (test-retest)
            source      VARCHAR NOT NULL,       -- 'import', 'simulated', 'labeler'
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX labels_subject_dataset ON labels (subject, dataset);
        CREATE TABLE runs (
            id            VARCHAR PRIMARY KEY,
            subject       VARCHAR NOT NULL,
            dataset       VARCHAR NOT NULL,
            backbone      VARCHAR NOT NULL,
            protocol      VARCHAR NOT NULL,
            parent_run    VARCHAR,
            seed          INTEGER NOT NULL,
            epochs        INTEGER NOT NULL,
            config        JSON NOT NULL,
            labels_digest VARCHAR NOT NULL,     -- which labels the run learned from
            status        VARCHAR NOT NULL,     -- 'running', 'finished', 'failed'
            error         VARCHAR,
            best_epoch    INTEGER,
            device        VARCHAR,
            versions      JSON NOT NULL,
            created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at   TIMESTAMP,
            duration_s    DOUBLE
        );
        CREATE TABLE epochs (
            run_id         VARCHAR NOT NULL,
            epoch          INTEGER NOT NULL,
            train_loss     DOUBLE NOT NULL,
            train_accuracy DOUBLE NOT NULL,
            val_loss       DOUBLE,
            val_accuracy   DOUBLE,
            seconds        DOUBLE NOT NULL,
            PRIMARY KEY (run_id, epoch)
        );
        CREATE TABLE metrics (
            run_id   VARCHAR NOT NULL,
            split    VARCHAR NOT NULL,          -- 'train', 'validation', 'test'
            tp INTEGER NOT NULL, fp INTEGER NOT NULL, fn INTEGER NOT NULL, tn INTEGER NOT NULL,
            n        INTEGER NOT NULL,
            accuracy DOUBLE NOT NULL,
            PRIMARY KEY (run_id, split)
        );
        CREATE TABLE predictions (
            run_id      VARCHAR NOT NULL,
            dataset     VARCHAR NOT NULL,
            item_idx    INTEGER NOT NULL,
            split       VARCHAR NOT NULL,
            label       BOOLEAN NOT NULL,       -- the subject's answer
            p_preferred DOUBLE NOT NULL,
            PRIMARY KEY (run_id, item_idx)
        );
        """,
    ),
    (
        2,
        """
        -- Grad-CAM explanations of a run's items, and their agreement with the subject's region.
        CREATE TABLE explanations (
            run_id      VARCHAR NOT NULL,
            layer       VARCHAR NOT NULL,       -- the module the maps were taken at
            item_idx    INTEGER NOT NULL,
            split       VARCHAR NOT NULL,
            label       BOOLEAN NOT NULL,       -- the subject's answer
            predicted   BOOLEAN NOT NULL,       -- the model's answer; the map explains it
            region      DOUBLE[],               -- the subject's reason, when the label has one
            pointing    BOOLEAN,                -- agreement with the region (NULL without one)
            energy      DOUBLE,
            iou         DOUBLE,
            top         DOUBLE NOT NULL,        -- the share of top map pixels the IoU used
            empty_map   BOOLEAN NOT NULL,
            PRIMARY KEY (run_id, layer, item_idx)
        );
        CREATE TABLE explanation_files (
            run_id   VARCHAR NOT NULL,
            layer    VARCHAR NOT NULL,
            item_idx INTEGER,                   -- NULL for a contact sheet
            kind     VARCHAR NOT NULL,          -- original, heatmap, overlay, sheet
            path     VARCHAR NOT NULL
        );
        """,
    ),
    (
        3,
        """
        -- The labelling app: one secret link per subject; an answer is stored once per (session, trial).
        CREATE TABLE label_links (
            subject    VARCHAR PRIMARY KEY,
            token      VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE UNIQUE INDEX labels_session_trial ON labels (session, trial);
        """,
    ),
    (
        4,
        # How fast a run trained, and on which numeric path (fp32, or bf16 autocast).
        """
        ALTER TABLE runs ADD COLUMN precision VARCHAR;
        ALTER TABLE runs ADD COLUMN train_images_per_s DOUBLE;
        """,
    ),
    (
        5,
        # The process a running run lives in, so a run whose process died shows as interrupted
        # ('running', 'finished', 'failed', 'interrupted'), and a reused pid is not taken for its owner.
        """
        ALTER TABLE runs ADD COLUMN owner_pid BIGINT;
        ALTER TABLE runs ADD COLUMN owner_host VARCHAR;
        ALTER TABLE runs ADD COLUMN owner_started VARCHAR;  -- '<boot id>:<start tick>' of the process
        """,
    ),
    (
        6,
        # Real people's ratings: each rating kept as given, the rule that turns it into an answer,
        # and ties (a rating on the rule's cut) recorded as neither answer, and not as a miss.
        """
        ALTER TABLE labels ADD COLUMN rating DOUBLE;
        ALTER TABLE labels ADD COLUMN tie BOOLEAN DEFAULT false;
        ALTER TABLE subjects ADD COLUMN origin VARCHAR;     -- NULL: added or labelling; 'ratings': imported
        ALTER TABLE subjects ADD COLUMN attributes JSON;    -- a rater's own columns, e.g. sex and age
        CREATE TABLE rating_rules (
            subject    VARCHAR NOT NULL,
            dataset    VARCHAR NOT NULL,
            rule       VARCHAR NOT NULL,                    -- 'median' (the subject's own) or 'threshold'
            threshold  DOUBLE,                              -- the threshold rule's cut
            source     VARCHAR,                             -- the file the ratings came from
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (subject, dataset)
        );
        CREATE TABLE consensus (
            subject     VARCHAR NOT NULL,                   -- the derived subject
            dataset     VARCHAR NOT NULL,
            method      VARCHAR NOT NULL,                   -- 'mean' of the raters' ratings
            min_raters  INTEGER NOT NULL,                   -- items rated by fewer are left out
            raters      VARCHAR[] NOT NULL,                 -- whose ratings it is made of
            excluded    VARCHAR[] NOT NULL,
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (subject, dataset)
        );
        ALTER TABLE predictions ALTER COLUMN label DROP NOT NULL;  -- NULL: a tie, predicted for its rating
        ALTER TABLE predictions ADD COLUMN rating DOUBLE;
        ALTER TABLE metrics ADD COLUMN spearman DOUBLE;     -- between p_preferred and the ratings, ties included
        ALTER TABLE metrics ADD COLUMN n_rated INTEGER;
        """,
    ),
    (
        7,
        # Open enrolment: a participant who came through the public join link, by their recruiting
        # platform's id (one subject per id); and how each answer in the labelling app was given.
        """
        CREATE TABLE enrolments (
            subject           VARCHAR PRIMARY KEY,
            dataset           VARCHAR NOT NULL,     -- the dataset they enrolled to label
            participant_param VARCHAR NOT NULL,     -- the join link's query parameter, e.g. PROLIFIC_PID
            participant_id    VARCHAR NOT NULL,     -- its value: the platform's id of the participant
            client            VARCHAR,              -- the address they enrolled from
            created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (participant_param, participant_id)
        );
        ALTER TABLE labels ADD COLUMN input VARCHAR;                -- keyboard, mouse, touch or pen
        ALTER TABLE labels ADD COLUMN orientation_changed BOOLEAN;  -- the screen turned while the image was up
        """,
    ),
    (
        8,
        # Scale-out: runs handed to an executor (a local pool, Ray, Slurm) are 'queued' until a worker
        # takes them; the executor's job id lets a later `study run` find a Slurm job still running.
        """
        ALTER TABLE runs ADD COLUMN executor VARCHAR;   -- local, ray or slurm; NULL: made in the recording process
        ALTER TABLE runs ADD COLUMN job_id VARCHAR;     -- the executor's id of the job making the run
        ALTER TABLE runs ADD COLUMN attempts INTEGER;   -- how many times an executor has started it
        """,
    ),
    (
        9,
        # Fewer labels: which strategy chose each image a subject labelled, the order each subject labels
        # in (kept across sittings), and learning curves (labels -> accuracy), which are not runs.
        """
        ALTER TABLE labels ADD COLUMN strategy VARCHAR;  -- random, uncertainty, diverse, explore, test, repeat
        CREATE TABLE label_orders (
            subject     VARCHAR NOT NULL,
            dataset     VARCHAR NOT NULL,
            label_order VARCHAR NOT NULL,       -- random, uncertainty or diverse
            explore     DOUBLE NOT NULL,        -- the share of random items mixed in
            refit_every INTEGER,                -- uncertainty: a new model every N labels
            start       VARCHAR,                -- scratch, transfer:RUN or population:RUN; NULL under random
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (subject, dataset)
        );
        CREATE SEQUENCE curve_id_seq START 1;
        CREATE TABLE curves (
            id          BIGINT PRIMARY KEY DEFAULT nextval('curve_id_seq'),
            subject     VARCHAR NOT NULL,
            dataset     VARCHAR NOT NULL,
            label_order VARCHAR NOT NULL,
            start       VARCHAR NOT NULL,       -- scratch, transfer:RUN or population:RUN
            seeds       INTEGER NOT NULL,
            step        VARCHAR NOT NULL,       -- how many labels each selection step adds
            settings    JSON NOT NULL,          -- the fitting settings, test items and pool
            chance      DOUBLE,
            all_labels_accuracy DOUBLE,         -- a model fitted on every pool label, from the same start
            labels_to_95pct INTEGER,            -- fewest labels reaching 95 % of the all-labels gain over chance
            created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE curve_points (
            curve_id    BIGINT NOT NULL,
            labels      INTEGER NOT NULL,
            seed        INTEGER NOT NULL,
            accuracy    DOUBLE NOT NULL,
            spearman    DOUBLE,                 -- rated subjects: rank correlation with the ratings
            n_test      INTEGER NOT NULL,
            PRIMARY KEY (curve_id, labels, seed)
        );
        """,
    ),
    (
        10,
        """
        CREATE TABLE features (
            dataset      VARCHAR NOT NULL,
            extractor    VARCHAR NOT NULL,      -- as named: face, imagenet-lite0, run:<run id>
            weights      VARCHAR NOT NULL,      -- a hash of the extractor's weights
            items_sha256 VARCHAR NOT NULL,      -- the dataset's items (keys and file hashes), in index order
            image_size   INTEGER NOT NULL,      -- the side the originals were decoded at for it
            dim          INTEGER NOT NULL,
            n_items      INTEGER NOT NULL,
            file         VARCHAR NOT NULL,      -- (n_items, dim) float32 .npy, relative to the workspace
            file_sha256  VARCHAR NOT NULL,
            counts       JSON NOT NULL,         -- what the extractor said, e.g. {"no face detected ...": 3}
            seconds      DOUBLE,
            created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (dataset, extractor, weights, items_sha256, image_size)
        );
        """,
    ),
    (
        11,
        # How each explanation's map was made: Grad-CAM (every row before this migration), or occlusion with the
        # side of its grey square and its step, in pixels of what it covered (a head run's extractor's input or crop).
        """
        ALTER TABLE explanations ADD COLUMN method VARCHAR NOT NULL DEFAULT 'grad-cam';
        ALTER TABLE explanations ADD COLUMN window_px INTEGER;
        ALTER TABLE explanations ADD COLUMN stride_px INTEGER;
        """,
    ),
    (
        12,
        # What a researcher approves a submission by: the browser a participant joined with, the platform's other
        # ids from the join link (e.g. Prolific's STUDY_ID and SESSION_ID), and when they gave their last answer.
        """
        ALTER TABLE enrolments ADD COLUMN user_agent VARCHAR;
        ALTER TABLE enrolments ADD COLUMN platform JSON;
        ALTER TABLE enrolments ADD COLUMN finished_at TIMESTAMP;
        """,
    ),
]


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int] | None:
    """The migrations this database has had; None without a schema_migrations table (a new database)."""
    try:
        return {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        return None


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration this database lacks; return the schema version it ends at."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    applied = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, sql in MIGRATIONS:
        if version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return max(v for v, _ in MIGRATIONS)
