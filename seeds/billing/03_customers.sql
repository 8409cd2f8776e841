INSERT INTO customers (id, account_id, email, legal_name, country_code, tax_id, default_currency)
VALUES
    ('77777777-7777-4777-8777-000000000001', '44444444-4444-4444-8444-000000000001', 'billing@acme.example',    'Acme Corp',             'US', '12-3456789',       'USD'),
    ('77777777-7777-4777-8777-000000000002', '44444444-4444-4444-8444-000000000002', 'finance@initech.example', 'Initech GmbH',          'DE', 'DE123456789',      'EUR'),
    ('77777777-7777-4777-8777-000000000003', '44444444-4444-4444-8444-000000000003', 'accounts@globex.example', 'Globex Ltd',            'GB', 'GB123456789',      'GBP'),
    ('77777777-7777-4777-8777-000000000004', '44444444-4444-4444-8444-000000000004', 'financeiro@tabajara.example', 'Tabajara Ltda',     'BR', '12.345.678/0001-90', 'BRL');

INSERT INTO payment_methods (id, customer_id, kind, brand, last4, fingerprint, is_default)
VALUES
    ('88888888-8888-4888-8888-000000000001', '77777777-7777-4777-8777-000000000001', 'card',       'visa',       '4242', digest('fp_acme_visa', 'sha256'), true),
    ('88888888-8888-4888-8888-000000000002', '77777777-7777-4777-8777-000000000002', 'sepa_debit', NULL,         '3000', digest('fp_initech_sepa', 'sha256'), true),
    ('88888888-8888-4888-8888-000000000003', '77777777-7777-4777-8777-000000000003', 'card',       'mastercard', '4444', digest('fp_globex_mc', 'sha256'), true),
    ('88888888-8888-4888-8888-000000000004', '77777777-7777-4777-8777-000000000004', 'pix',        NULL,         NULL,   NULL, true);
