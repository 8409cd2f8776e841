INSERT INTO orders (id, email, total) VALUES
    (1, 'Ada@Example.com', 12.50),
    (2, 'grace@example.com', 99.00);
SELECT setval('orders_id_seq', 2);
