-- task_definition_code from task_builder.task_definitions, client_id from client.clients,
-- user ids from auth.users / user.user_profiles.
INSERT INTO task_instances (id, task_definition_code, client_id, title, status, priority, due_at, created_by, created_at)
VALUES
    ('7a500000-0000-4000-8000-000000000001', 'kpi_data_request',         'c1000000-0000-4000-8000-000000000002', 'June KPI data - Northwind Logistics',  'open',        3, '2025-07-08 17:00:00+00', 'a1000000-0000-4000-8000-000000000001', '2025-07-01 09:00:00+00'),
    ('7a500000-0000-4000-8000-000000000002', 'kpi_data_request',         'c1000000-0000-4000-8000-000000000003', 'June KPI data - Northwind Retail',     'open',        3, '2025-07-08 17:00:00+00', 'a1000000-0000-4000-8000-000000000001', '2025-07-01 09:00:00+00'),
    ('7a500000-0000-4000-8000-000000000003', 'monthly_financials_review','c1000000-0000-4000-8000-000000000004', 'May financials review - Bluepeak',     'open',        2, '2025-06-20 17:00:00+00', 'a1000000-0000-4000-8000-000000000003', '2025-06-10 09:00:00+00'),
    ('7a500000-0000-4000-8000-000000000004', 'covenant_compliance_check','c1000000-0000-4000-8000-000000000003', 'Q2 covenant check - Northwind Retail', 'open',        1, '2025-07-03 17:00:00+00', 'a1000000-0000-4000-8000-000000000003', '2025-06-28 09:00:00+00'),
    ('7a500000-0000-4000-8000-000000000005', 'quarterly_board_pack',     'c1000000-0000-4000-8000-000000000001', 'Q2 board pack - Northwind Holdings',   'open',        2, '2025-07-25 17:00:00+00', 'a1000000-0000-4000-8000-000000000003', '2025-06-30 09:00:00+00');

-- Move some tasks along; the trigger records each status change in task_status_history.
UPDATE task_instances SET status = 'in_progress' WHERE id IN ('7a500000-0000-4000-8000-000000000001', '7a500000-0000-4000-8000-000000000004', '7a500000-0000-4000-8000-000000000003');
UPDATE task_instances SET status = 'done', completed_at = '2025-06-19 15:30:00+00' WHERE id = '7a500000-0000-4000-8000-000000000003';
UPDATE task_instances SET status = 'blocked' WHERE id = '7a500000-0000-4000-8000-000000000004';

INSERT INTO task_assignments (task_id, user_id, role)
VALUES
    ('7a500000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000002', 'assignee'),
    ('7a500000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000002', 'assignee'),
    ('7a500000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000002', 'assignee'),
    ('7a500000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000003', 'reviewer'),
    ('7a500000-0000-4000-8000-000000000004', 'a1000000-0000-4000-8000-000000000003', 'assignee'),
    ('7a500000-0000-4000-8000-000000000004', 'a1000000-0000-4000-8000-000000000001', 'watcher'),
    ('7a500000-0000-4000-8000-000000000005', 'a1000000-0000-4000-8000-000000000003', 'assignee');

INSERT INTO task_comments (task_id, author_id, body, created_at)
VALUES
    ('7a500000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000002', 'Revenue 4% above budget; opex variance explained by hiring plan.', '2025-06-18 11:00:00+00'),
    ('7a500000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000003', 'Approved.', '2025-06-19 15:25:00+00'),
    ('7a500000-0000-4000-8000-000000000004', 'a1000000-0000-4000-8000-000000000003', 'Blocked: waiting for the lender''s updated leverage definition.', '2025-07-01 10:00:00+00');

INSERT INTO task_attachments (task_id, file_name, content_type, size_bytes, storage_uri, uploaded_by, uploaded_at)
VALUES
    ('7a500000-0000-4000-8000-000000000003', 'bluepeak_may_2025_pl.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 84213,
     'gs://pcc-devtest-attachments/tasks/7a500000-0000-4000-8000-000000000003/bluepeak_may_2025_pl.xlsx', 'a1000000-0000-4000-8000-000000000002', '2025-06-18 10:55:00+00'),
    ('7a500000-0000-4000-8000-000000000004', 'facility_agreement_extract.pdf', 'application/pdf', 412908,
     'gs://pcc-devtest-attachments/tasks/7a500000-0000-4000-8000-000000000004/facility_agreement_extract.pdf', 'a1000000-0000-4000-8000-000000000003', '2025-06-28 09:30:00+00');
