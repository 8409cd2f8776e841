INSERT INTO subscriptions (id, customer_id, plan_id, status, quantity, current_period_start, current_period_end, cancel_at_period_end)
VALUES
    ('99999999-9999-4999-8999-000000000001', '77777777-7777-4777-8777-000000000001', '66666666-6666-4666-8666-000000000002', 'active',   12,
     date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', false),
    ('99999999-9999-4999-8999-000000000002', '77777777-7777-4777-8777-000000000002', '66666666-6666-4666-8666-000000000004', 'active',   5,
     date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', true),
    ('99999999-9999-4999-8999-000000000003', '77777777-7777-4777-8777-000000000003', '66666666-6666-4666-8666-000000000005', 'past_due', 3,
     date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', false),
    ('99999999-9999-4999-8999-000000000004', '77777777-7777-4777-8777-000000000004', '66666666-6666-4666-8666-000000000006', 'trialing', 1,
     now() - interval '3 days', now() + interval '11 days', false);
