INSERT INTO plans (id, code, name, interval, amount_minor, currency_code, trial_days, features)
VALUES
    ('66666666-6666-4666-8666-000000000001', 'starter', 'Starter',  'month',   1900, 'USD', 14, '{"projects": 3,  "seats": 5}'),
    ('66666666-6666-4666-8666-000000000002', 'pro',     'Pro',      'month',   4900, 'USD', 14, '{"projects": 20, "seats": 25}'),
    ('66666666-6666-4666-8666-000000000003', 'pro',     'Pro',      'year',   49000, 'USD',  0, '{"projects": 20, "seats": 25}'),
    ('66666666-6666-4666-8666-000000000004', 'pro',     'Pro',      'month',   4500, 'EUR', 14, '{"projects": 20, "seats": 25}'),
    ('66666666-6666-4666-8666-000000000005', 'pro',     'Pro',      'month',   3900, 'GBP', 14, '{"projects": 20, "seats": 25}'),
    ('66666666-6666-4666-8666-000000000006', 'pro',     'Pro',      'month',  24900, 'BRL', 14, '{"projects": 20, "seats": 25}'),
    ('66666666-6666-4666-8666-000000000007', 'enterprise', 'Enterprise', 'year', 1200000, 'EUR', 0, '{"projects": null, "seats": null, "sso": true}');
