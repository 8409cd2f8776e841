-- Eight builds per project over the last weeks; the newest of storefront is still running
-- and one older build failed.
INSERT INTO builds (id, project_id, number, commit_sha, branch, status, image_ref, image_digest,
                    triggered_by, queued_at, started_at, finished_at)
SELECT md5(p.slug || n)::uuid,
       p.id,
       n,
       encode(sha256(convert_to(p.slug || ':' || n, 'UTF8')), 'hex')::char(40),
       CASE WHEN n % 3 = 0 THEN 'feature/checkout-v' || n ELSE p.default_branch END,
       s.status,
       CASE WHEN s.status = 'succeeded' THEN 'registry.local:5000/' || p.slug || ':' || n END,
       CASE WHEN s.status = 'succeeded' THEN 'sha256:' || encode(sha256(convert_to('img:' || p.slug || n, 'UTF8')), 'hex') END,
       CASE WHEN n % 4 = 0 THEN 'manual' ELSE 'push' END,
       now() - make_interval(days => (8 - n) * 3, hours => 1),
       now() - make_interval(days => (8 - n) * 3, hours => 1) + interval '20 seconds',
       CASE WHEN s.status = 'running' THEN NULL
            ELSE now() - make_interval(days => (8 - n) * 3, hours => 1) + interval '3 minutes 40 seconds' END
  FROM projects p
 CROSS JOIN generate_series(1, 8) AS n
 CROSS JOIN LATERAL (SELECT CASE
        WHEN p.slug = 'storefront' AND n = 8 THEN 'running'
        WHEN n = 5 THEN 'failed'
        ELSE 'succeeded' END::build_status AS status) s;

INSERT INTO build_logs (build_id, line_no, logged_at, stream, message)
SELECT b.id, l.line_no, b.started_at + make_interval(secs => l.line_no * 10), l.stream,
       replace(l.message, '{image}', coalesce(b.image_ref, '<none>'))
  FROM builds b
 CROSS JOIN (VALUES
        (1, 'system', 'Cloning repository'),
        (2, 'stdout', 'Step 1/6 : FROM node:20-alpine'),
        (3, 'stdout', 'Step 4/6 : RUN npm ci'),
        (4, 'stdout', 'added 812 packages in 41s'),
        (5, 'stdout', 'Step 6/6 : CMD ["node", "server.js"]'),
        (6, 'system', 'Pushed {image}')) AS l(line_no, stream, message)
 WHERE b.status IN ('succeeded', 'running') AND (b.status = 'succeeded' OR l.line_no <= 3);

INSERT INTO build_logs (build_id, line_no, logged_at, stream, message)
SELECT b.id, l.line_no, b.started_at + make_interval(secs => l.line_no * 10), l.stream, l.message
  FROM builds b
 CROSS JOIN (VALUES
        (1, 'system', 'Cloning repository'),
        (2, 'stdout', 'Step 4/6 : RUN npm ci'),
        (3, 'stderr', 'npm ERR! code ERESOLVE'),
        (4, 'stderr', 'npm ERR! Could not resolve dependency: peer react@"^18" from react-dom@19.0.0'),
        (5, 'system', 'Build failed with exit code 1')) AS l(line_no, stream, message)
 WHERE b.status = 'failed';
