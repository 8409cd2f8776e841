-- Managed databases in every lifecycle state. "orders" exists twice: the old one is
-- soft-deleted, so the partial unique index (name WHERE deleted_at IS NULL) allows the new one.
INSERT INTO databases (id, name, owner_team, purpose, namespace, cluster_name, pooler_name, status,
                       host, port, secret_name, error_message, spec, created_at, deleted_at)
VALUES
    ('0d000000-0000-4000-8000-000000000001', 'orders', 'checkout', 'Order service primary store (v1, replaced)',
     'team-checkout', 'orders-v1', 'orders-v1-pooler', 'deleted',
     NULL, NULL, NULL, NULL, '{"instances": 1, "storage": "5Gi"}', NOW() - INTERVAL '120 days', NOW() - INTERVAL '30 days'),
    ('0d000000-0000-4000-8000-000000000002', 'orders', 'checkout', 'Order service primary store',
     'team-checkout', 'orders-v2', 'orders-v2-pooler', 'ready',
     'orders-v2-pooler.team-checkout.svc', 5432, 'orders-v2-app', NULL, '{"instances": 3, "storage": "20Gi"}', NOW() - INTERVAL '31 days', NULL),
    ('0d000000-0000-4000-8000-000000000003', 'inventory', 'warehouse', 'Stock levels and reservations',
     'team-warehouse', 'inventory', 'inventory-pooler', 'ready',
     'inventory-pooler.team-warehouse.svc', 5432, 'inventory-app', NULL, '{"instances": 2, "storage": "10Gi"}', NOW() - INTERVAL '60 days', NULL),
    ('0d000000-0000-4000-8000-000000000004', 'analytics-scratch', 'data', 'Ad-hoc analysis sandbox',
     'team-data', 'analytics-scratch', 'analytics-scratch-pooler', 'provisioning',
     NULL, NULL, NULL, NULL, '{"instances": 1, "storage": "50Gi"}', NOW() - INTERVAL '2 minutes', NULL),
    ('0d000000-0000-4000-8000-000000000005', 'notifications', 'platform', 'Outbox for email/SMS notifications',
     'team-platform', 'notifications', 'notifications-pooler', 'error',
     NULL, NULL, NULL, 'PersistentVolumeClaim notifications-1 pending: no storage class "fast-ssd"',
     '{"instances": 2, "storage": "10Gi", "storageClass": "fast-ssd"}', NOW() - INTERVAL '1 day', NULL),
    ('0d000000-0000-4000-8000-000000000006', 'legacy-reports', 'data', 'Old reporting database being decommissioned',
     'team-data', 'legacy-reports', 'legacy-reports-pooler', 'deleting',
     'legacy-reports-pooler.team-data.svc', 5432, 'legacy-reports-app', NULL, '{"instances": 1, "storage": "5Gi"}', NOW() - INTERVAL '400 days', NULL);

INSERT INTO database_events (database_id, from_status, to_status, message, actor, created_at)
VALUES
    ('0d000000-0000-4000-8000-000000000001', NULL,           'provisioning', 'Cluster and Pooler submitted',         'api:alice',  NOW() - INTERVAL '120 days'),
    ('0d000000-0000-4000-8000-000000000001', 'provisioning', 'ready',        'Cluster healthy',                      'reconciler', NOW() - INTERVAL '120 days' + INTERVAL '4 minutes'),
    ('0d000000-0000-4000-8000-000000000001', 'ready',        'deleting',     'Deletion requested',                   'api:alice',  NOW() - INTERVAL '30 days' - INTERVAL '10 minutes'),
    ('0d000000-0000-4000-8000-000000000001', 'deleting',     'deleted',      'CNPG resources removed',               'reconciler', NOW() - INTERVAL '30 days'),
    ('0d000000-0000-4000-8000-000000000002', NULL,           'provisioning', 'Cluster and Pooler submitted',         'api:alice',  NOW() - INTERVAL '31 days'),
    ('0d000000-0000-4000-8000-000000000002', 'provisioning', 'ready',        'Cluster healthy',                      'reconciler', NOW() - INTERVAL '31 days' + INTERVAL '6 minutes'),
    ('0d000000-0000-4000-8000-000000000003', NULL,           'provisioning', 'Cluster and Pooler submitted',         'api:bob',    NOW() - INTERVAL '60 days'),
    ('0d000000-0000-4000-8000-000000000003', 'provisioning', 'ready',        'Cluster healthy',                      'reconciler', NOW() - INTERVAL '60 days' + INTERVAL '5 minutes'),
    ('0d000000-0000-4000-8000-000000000004', NULL,           'provisioning', 'Cluster and Pooler submitted',         'api:carol',  NOW() - INTERVAL '2 minutes'),
    ('0d000000-0000-4000-8000-000000000005', NULL,           'provisioning', 'Cluster and Pooler submitted',         'api:dave',   NOW() - INTERVAL '1 day'),
    ('0d000000-0000-4000-8000-000000000005', 'provisioning', 'error',        'PVC pending for 15m',                  'reconciler', NOW() - INTERVAL '1 day' + INTERVAL '15 minutes'),
    ('0d000000-0000-4000-8000-000000000006', 'ready',        'deleting',     'Deletion requested',                   'api:carol',  NOW() - INTERVAL '5 minutes');
