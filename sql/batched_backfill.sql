-- The batched, resumable backfill: CALL cf_backfill(). A procedure that commits after every batch
-- cannot be SECURITY DEFINER or carry SET search_path, so it only calls schema-qualified functions
-- (src/batched.rs), and keeps no arithmetic or operator of its own.
CREATE PROCEDURE @extschema@.cf_backfill(
    entity     text    DEFAULT NULL,
    batch_size integer DEFAULT 5000,
    pause_ms   integer DEFAULT 0)
LANGUAGE plpgsql
AS $$
DECLARE
    v_entity text;
    v_batch  record;
BEGIN
    FOREACH v_entity IN ARRAY coreforge_sync.backfill_entities(entity, batch_size, pause_ms) LOOP
        PERFORM coreforge_sync.backfill_start(v_entity, batch_size);
        COMMIT;
        LOOP
            -- One batch, under a lock timeout; a batch that times out (or deadlocks) is rolled
            -- back and tried again after a backoff, never queued behind the application.
            LOOP
                BEGIN
                    SELECT * INTO v_batch FROM coreforge_sync.backfill_batch(v_entity);
                    EXIT;
                EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
                    PERFORM coreforge_sync.backfill_retry(v_entity);
                END;
            END LOOP;
            COMMIT;
            IF v_batch.notice IS NOT NULL THEN
                RAISE NOTICE '%', v_batch.notice;
            END IF;
            EXIT WHEN v_batch.finished;
            PERFORM coreforge_sync.backfill_pause(pause_ms);
        END LOOP;
    END LOOP;
END
$$;

-- Progress of the batched backfill, readable from any session while it runs (every batch commits).
CREATE VIEW @extschema@.cf_backfill_progress AS
SELECT s.entity,
       CASE WHEN s.phase = 'done' THEN 'done'
            WHEN a.pid IS NOT NULL THEN 'running'
            ELSE 'interrupted' END AS state,
       s.phase,
       s.pass,
       s.rows_done,
       s.estimated_total,
       pg_catalog.round(100.0 * s.rows_done / GREATEST(s.estimated_total, s.rows_done, 1), 1) AS percent_done,
       pg_catalog.round((s.rows_done / GREATEST(0.001, extract(epoch FROM
           COALESCE(s.finished_at, s.last_batch_at, s.started_at) - s.started_at)))::numeric, 0) AS rows_per_second,
       s.inserted,
       s.updated,
       s.deleted,
       s.rejected,
       s.batches,
       s.batch_size,
       s.retries,
       s.started_at,
       s.last_batch_at,
       s.finished_at,
       CASE WHEN a.pid IS NOT NULL THEN s.pid END AS pid
  FROM coreforge_sync.backfill_state s
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = s.pid AND a.state = 'active' AND s.phase <> 'done'
 ORDER BY pg_catalog.array_position(ARRAY['users', 'organizations', 'memberships'], s.entity);
