INSERT INTO projects (id, organization_id, slug, name, repo_url, default_branch, runtime)
VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', '44444444-4444-4444-8444-000000000001', 'storefront', 'Storefront',  'https://git.example.com/acme/storefront.git', 'main',   'container'),
    ('aaaaaaaa-0000-4000-8000-000000000002', '44444444-4444-4444-8444-000000000001', 'docs',       'Docs site',   'https://git.example.com/acme/docs.git',       'main',   'static'),
    ('aaaaaaaa-0000-4000-8000-000000000003', '44444444-4444-4444-8444-000000000002', 'tps-report', 'TPS reports', 'https://git.example.com/initech/tps.git',     'master', 'container');

INSERT INTO environments (id, project_id, name, kind, url, cpu_millicores, memory_mb, replicas, config)
VALUES
    ('bbbbbbbb-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000001', 'production', 'production', 'https://shop.acme.example',         2000, 4096, 3, '{"LOG_LEVEL": "info"}'),
    ('bbbbbbbb-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000001', 'staging',    'staging',    'https://staging.shop.acme.example',  500, 1024, 1, '{"LOG_LEVEL": "debug"}'),
    ('bbbbbbbb-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000002', 'production', 'production', 'https://docs.acme.example',          250,  256, 1, '{}'),
    ('bbbbbbbb-0000-4000-8000-000000000004', 'aaaaaaaa-0000-4000-8000-000000000003', 'production', 'production', 'https://tps.initech.example',        500,  512, 2, '{}');
