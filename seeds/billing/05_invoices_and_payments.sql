-- Three monthly invoices per non-trial subscription, in the subscription's currency.
INSERT INTO invoices (customer_id, subscription_id, currency_code, status, subtotal_minor, tax_minor,
                      period_start, period_end, issued_at, due_at, paid_at)
SELECT s.customer_id, s.id, p.currency_code,
       CASE WHEN m.n = 0 AND s.status = 'past_due' THEN 'open' ELSE 'paid' END,
       p.amount_minor * s.quantity,
       round(p.amount_minor * s.quantity *
             CASE p.currency_code WHEN 'EUR' THEN 0.19 WHEN 'GBP' THEN 0.20 WHEN 'BRL' THEN 0.0 ELSE 0.0725 END)::bigint,
       date_trunc('month', now()) - make_interval(months => m.n),
       date_trunc('month', now()) - make_interval(months => m.n - 1),
       date_trunc('month', now()) - make_interval(months => m.n),
       date_trunc('month', now()) - make_interval(months => m.n) + interval '14 days',
       CASE WHEN m.n = 0 AND s.status = 'past_due' THEN NULL
            ELSE date_trunc('month', now()) - make_interval(months => m.n) + interval '2 days' END
  FROM subscriptions s
  JOIN plans p ON p.id = s.plan_id
 CROSS JOIN generate_series(0, 2) AS m(n)
 WHERE s.status <> 'trialing'
 ORDER BY s.customer_id, m.n DESC;

INSERT INTO invoice_line_items (invoice_id, description, quantity, unit_amount_minor)
SELECT i.id, p.name || ' plan (' || p.interval || 'ly) x seat', s.quantity, p.amount_minor
  FROM invoices i
  JOIN subscriptions s ON s.id = i.subscription_id
  JOIN plans p ON p.id = s.plan_id;

-- Payments for every paid invoice, plus a failed attempt on the open one.
INSERT INTO payments (invoice_id, customer_id, payment_method_id, amount_minor, currency_code, status, provider_ref, created_at, settled_at)
SELECT i.id, i.customer_id, pm.id, i.total_minor, i.currency_code, 'succeeded',
       'pi_' || substr(md5(i.number), 1, 16), i.paid_at, i.paid_at
  FROM invoices i
  JOIN payment_methods pm ON pm.customer_id = i.customer_id AND pm.is_default
 WHERE i.status = 'paid';

INSERT INTO payments (invoice_id, customer_id, payment_method_id, amount_minor, currency_code, status, failure_code, created_at)
SELECT i.id, i.customer_id, pm.id, i.total_minor, i.currency_code, 'failed', 'card_declined', i.issued_at + interval '1 day'
  FROM invoices i
  JOIN payment_methods pm ON pm.customer_id = i.customer_id AND pm.is_default
 WHERE i.status = 'open';

-- One-off BRL payment via PIX for the trialing customer (setup fee), so all four currencies have payments.
INSERT INTO payments (customer_id, payment_method_id, amount_minor, currency_code, status, provider_ref, created_at, settled_at)
VALUES ('77777777-7777-4777-8777-000000000004', '88888888-8888-4888-8888-000000000004', 9900, 'BRL', 'succeeded',
        'pix_e2e_0001', now() - interval '3 days', now() - interval '3 days');
