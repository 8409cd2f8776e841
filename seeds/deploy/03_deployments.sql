-- Every succeeded build on the default branch was deployed to the project's production
-- environment; the newest one is live and older ones are superseded. Storefront staging
-- gets every succeeded build, plus one failed deployment and its rollback.
INSERT INTO deployments (environment_id, build_id, status, strategy, requested_by, created_at, started_at, finished_at)
SELECT e.id, b.id,
       CASE WHEN b.number = max(b.number) OVER (PARTITION BY e.id) THEN 'live' ELSE 'superseded' END::deployment_status,
       CASE WHEN e.kind = 'production' THEN 'blue_green' ELSE 'rolling' END,
       CASE WHEN b.triggered_by = 'manual' THEN 'dev@capsule.local' ELSE 'ci-bot' END,
       b.finished_at + interval '30 seconds',
       b.finished_at + interval '35 seconds',
       b.finished_at + interval '2 minutes'
  FROM builds b
  JOIN projects p ON p.id = b.project_id
  JOIN environments e ON e.project_id = p.id
 WHERE b.status = 'succeeded'
   AND (e.kind = 'staging' OR (e.kind = 'production' AND b.branch = p.default_branch));

-- A failed production deployment of storefront, rolled back to the live one.
WITH live AS (
    SELECT d.id, d.environment_id, d.build_id
      FROM deployments d
      JOIN environments e ON e.id = d.environment_id
     WHERE e.id = 'bbbbbbbb-0000-4000-8000-000000000001' AND d.status = 'live'
), failed AS (
    INSERT INTO deployments (environment_id, build_id, status, strategy, requested_by, created_at, started_at, finished_at, error_message)
    SELECT l.environment_id, b.id, 'failed', 'blue_green', 'dev@capsule.local',
           now() - interval '6 hours', now() - interval '6 hours', now() - interval '5 hours 55 minutes',
           'health check /healthz returned 503 for 300s'
      FROM live l
      JOIN builds b ON b.project_id = 'aaaaaaaa-0000-4000-8000-000000000001' AND b.number = 7 AND b.status = 'succeeded'
    RETURNING id
)
INSERT INTO deployments (environment_id, build_id, status, strategy, rollback_of, requested_by, created_at, started_at, finished_at)
SELECT l.environment_id, l.build_id, 'rolled_back', 'recreate', f.id, 'ci-bot',
       now() - interval '5 hours 54 minutes', now() - interval '5 hours 54 minutes', now() - interval '5 hours 50 minutes'
  FROM live l CROSS JOIN failed f;
