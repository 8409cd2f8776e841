-- What is running where: the live deployment of each environment with its build.
CREATE VIEW environment_status AS
SELECT p.slug            AS project,
       e.name            AS environment,
       e.kind,
       d.id              AS deployment_id,
       d.status,
       b.number          AS build_number,
       left(b.commit_sha, 7) AS commit,
       b.image_ref,
       d.finished_at     AS deployed_at
  FROM environments e
  JOIN projects p ON p.id = e.project_id
  LEFT JOIN deployments d ON d.environment_id = e.id AND d.status = 'live'
  LEFT JOIN builds b ON b.id = d.build_id;
