INSERT INTO clients (id, code, name, parent_client_id, status, acquired_on, exited_on)
VALUES
    ('c1000000-0000-4000-8000-000000000001', 'NWH',     'Northwind Holdings',  NULL,                                   'active',   '2021-03-15', NULL),
    ('c1000000-0000-4000-8000-000000000002', 'NWH-LOG', 'Northwind Logistics', 'c1000000-0000-4000-8000-000000000001', 'active',   '2021-03-15', NULL),
    ('c1000000-0000-4000-8000-000000000003', 'NWH-RET', 'Northwind Retail',    'c1000000-0000-4000-8000-000000000001', 'active',   '2022-07-01', NULL),
    ('c1000000-0000-4000-8000-000000000004', 'BLUEPEAK','Bluepeak Software',   NULL,                                   'active',   '2023-01-10', NULL),
    ('c1000000-0000-4000-8000-000000000005', 'HARBOR',  'Harbor Health',       NULL,                                   'exited',   '2019-05-20', '2024-11-30'),
    ('c1000000-0000-4000-8000-000000000006', 'ORCHID',  'Orchid Foods',        NULL,                                   'prospect', NULL,         NULL);

INSERT INTO client_metadata (client_id, industry, size_band, employee_count, annual_revenue_usd, risk_category, hq_country)
VALUES
    ('c1000000-0000-4000-8000-000000000001', 'Diversified holdings', 'enterprise', 4200, 910000000.00, 'medium', 'US'),
    ('c1000000-0000-4000-8000-000000000002', 'Logistics',            'large',      2600, 540000000.00, 'medium', 'US'),
    ('c1000000-0000-4000-8000-000000000003', 'Retail',               'large',      1600, 370000000.00, 'high',   'CA'),
    ('c1000000-0000-4000-8000-000000000004', 'Software',             'mid',         310,  48000000.00, 'low',    'US'),
    ('c1000000-0000-4000-8000-000000000005', 'Healthcare',           'mid',         780,  95000000.00, 'low',    'GB'),
    ('c1000000-0000-4000-8000-000000000006', 'Food & beverage',      'small',        90,  12500000.00, 'high',   'MX');

INSERT INTO client_contacts (client_id, full_name, title, email, phone, is_primary)
VALUES
    ('c1000000-0000-4000-8000-000000000001', 'Helen Park',     'CFO',                 'helen.park@northwind.example',  '+1-312-555-0142', true),
    ('c1000000-0000-4000-8000-000000000001', 'Marcus Reed',    'Controller',          'marcus.reed@northwind.example', '+1-312-555-0177', false),
    ('c1000000-0000-4000-8000-000000000002', 'Ana Lima',       'VP Finance',          'ana.lima@nwlogistics.example',  '+1-773-555-0101', true),
    ('c1000000-0000-4000-8000-000000000003', 'Olivier Tremblay','Finance Director',   'o.tremblay@nwretail.example',   '+1-514-555-0190', true),
    ('c1000000-0000-4000-8000-000000000004', 'Sara Kim',       'CEO',                 'sara@bluepeak.example',         '+1-415-555-0123', true),
    ('c1000000-0000-4000-8000-000000000005', 'George Hughes',  'CFO',                 'g.hughes@harborhealth.example', '+44-20-5550-0188', true);
