-- Demo rows for schema.sql: 12 hand-written customers and products, then a few
-- hundred generated customers, orders and order lines. Deterministic (no RAND()),
-- portable (no CTEs, no variables): runs on MariaDB 10.5+ and MySQL 8.0+.

INSERT INTO customers (id, email, name, city, tier, prefs, created_at) VALUES
  (1,  'ada@example.com',     'Ada Lovelace',        'London',     'gold',   '{"newsletter": true, "lang": "en"}',                 '2023-01-05 09:15:00.000000'),
  (2,  'zoe@example.com',     'Zoë Šťastná',         'Praha',      'silver', '{"newsletter": false, "lang": "cs"}',                '2023-02-11 17:42:31.250000'),
  (3,  'kenji@example.com',   '山田 健二',            '東京',        'bronze', '{"lang": "ja", "tags": ["early", "vip"]}',           '2023-03-02 08:00:00.000001'),
  (4,  'olu@example.com',     'Olúwaseun Adéyẹmí',   'Lagos',      'gold',   NULL,                                                 '2023-03-19 12:30:45.500000'),
  (5,  'emoji@example.com',   'Party Person 🎉🥳',     'Berlin',     'bronze', '{"emoji": "🚀", "lang": "de"}',                      '2023-04-01 00:00:00.000000'),
  (6,  'sofia@example.com',   'Sofía Núñez',         'Sevilla',    'silver', '{"newsletter": true}',                               '2023-04-22 21:05:10.000000'),
  (7,  'anna@example.com',    'Анна Петрова',        'Санкт-Петербург', 'bronze', '{"lang": "ru"}',                              '2023-05-14 06:59:59.999999'),
  (8,  'omar@example.com',    'عمر الفاروق',         'القاهرة',     'gold',   '{"lang": "ar", "rtl": true}',                        '2023-06-30 14:14:14.141414'),
  (9,  'li@example.com',      '李小龙',               '香港',        'silver', '{"lang": "zh"}',                                     '2023-07-07 07:07:07.070707'),
  (10, 'noprefs@example.com', 'Plain O''Brien',      NULL,         'bronze', NULL,                                                 '2023-08-08 08:08:08.000000'),
  (11, 'chef@example.com',    'Chef 👩‍🍳 Ana',          'Lisboa',     'gold',   '{"diet": ["vegan"], "note": "likes 🍕 and \\"quotes\\""}', '2023-09-09 19:09:09.000000'),
  (12, 'quote@example.com',   'Back\\slash; Semi',   'Zürich',     'bronze', '{}',                                                   '2023-10-10 10:10:10.101010');

INSERT INTO products (id, sku, title, description, price, weight_kg, stock, attributes, updated_at) VALUES
  (1,  'TEE-001', 'T-shirt “Ship it” 👕',       'Organic cotton, unisex.',                        19.99,  0.2,    120, '{"sizes": ["S", "M", "L"], "color": "navy"}', '2024-01-01 10:00:00'),
  (2,  'MUG-002', 'Mug ☕ 350 ml',               'Dishwasher safe.',                               9.50,   0.35,   300, '{"ml": 350}',                                  '2024-01-02 11:00:00'),
  (3,  'BAG-003', 'Tote bag',                   NULL,                                             14.00,  0.15,   80,  NULL,                                           '2024-01-03 12:00:00'),
  (4,  'PEN-004', 'Fountain pen ✒️',             'Steel nib, refillable. 日本製.',                  129.00, 0.03,   15,  '{"nib": "F", "ink": ["black", "blue"]}',       '2024-01-04 13:00:00'),
  (5,  'BK-005',  'Book: Données et Réplication', 'Second edition — revised.',                      42.42,  0.8,    40,  '{"isbn": "978-0-00-000000-0"}',                '2024-01-05 14:00:00'),
  (6,  'CAP-006', 'Cap 🧢',                      'One size.',                                      17.25,  0.1,    0,   '{"color": "red"}',                             '2024-01-06 15:00:00'),
  (7,  'STK-007', 'Sticker pack (10)',          'Vinyl, 🐬🦀🐹🐍.',                                3.99,   0.01,   1000,'{"count": 10}',                                '2024-01-07 16:00:00'),
  (8,  'HD-008',  'Hoodie',                     'Heavy fleece.',                                  59.90,  0.7,    25,  '{"sizes": ["M", "L", "XL"]}',                  '2024-01-08 17:00:00'),
  (9,  'KB-009',  'Keyboard ⌨️ TKL',              'Hot-swap switches.',                             149.00, 0.95,   10,  '{"layout": "ISO-DE", "switch": "brown"}',      '2024-01-09 18:00:00'),
  (10, 'BTL-010', 'Bottle 0.75 l',              'Keeps cold 24 h.',                               24.00,  0.4,    60,  '{"ml": 750}',                                  '2024-01-10 19:00:00'),
  (11, 'GFT-011', 'Gift card',                  'Any amount; delivered by e-mail.',               0.00,   NULL,   99999, '{"digital": true}',                          '2024-01-11 20:00:00'),
  (12, 'BIG-012', 'Standing desk',              'Electric, 3 memory slots.',                      899.99, 32.5,   3,   '{"width_cm": 140, "depth_cm": 70}',            '2024-01-12 21:00:00');

-- Numbers 0..999 from three digit sets, used below to generate rows.
-- 188 more customers (ids 13..200).
INSERT INTO customers (id, email, name, city, tier, prefs, created_at)
SELECT n, CONCAT('customer', n, '@example.com'), CONCAT('Customer ', n, CASE WHEN n % 17 = 0 THEN ' ⭐' ELSE '' END),
       ELT(1 + n % 6, 'Amsterdam', 'Kraków', 'Montréal', 'São Paulo', 'Reykjavík', NULL),
       ELT(1 + n % 3, 'bronze', 'silver', 'gold'),
       CASE WHEN n % 4 = 0 THEN NULL ELSE CONCAT('{"newsletter": ', IF(n % 2 = 0, 'true', 'false'), ', "visits": ', n * 3, '}') END,
       TIMESTAMPADD(SECOND, n * 3607, '2023-11-01 00:00:00.123456')
FROM (SELECT a.d + 10 * b.d + 100 * c.d AS n
      FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c) nums
WHERE n BETWEEN 13 AND 200;

-- 300 orders (ids 1..300), one per customer round-robin.
INSERT INTO orders (id, customer_id, status, total, note, placed_at, shipped_on)
SELECT n, 1 + (n * 7) % 200, ELT(1 + n % 4, 'new', 'paid', 'shipped', 'cancelled'), 0.00,
       CASE WHEN n % 10 = 0 THEN 'Bitte vor 12 Uhr liefern 🚚' WHEN n % 25 = 1 THEN 'gift — no invoice' ELSE NULL END,
       TIMESTAMPADD(MICROSECOND, n * 7919000, '2024-02-01 08:00:00.000'),
       CASE WHEN n % 4 = 2 THEN DATE(TIMESTAMPADD(DAY, 2 + n % 5, '2024-02-01')) ELSE NULL END
FROM (SELECT a.d + 10 * b.d + 100 * c.d AS n
      FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c) nums
WHERE n BETWEEN 1 AND 300;

-- 1 to 3 lines per order.
INSERT INTO order_items (order_id, line, product_id, qty, unit_price)
SELECT o.id, l.line, 1 + (o.id * 5 + l.line * 3) % 12, 1 + (o.id + l.line) % 4, p.price
FROM orders o
CROSS JOIN (SELECT 1 AS line UNION ALL SELECT 2 UNION ALL SELECT 3) l
JOIN products p ON p.id = 1 + (o.id * 5 + l.line * 3) % 12
WHERE l.line <= 1 + o.id % 3;

UPDATE orders o
JOIN (SELECT order_id, SUM(qty * unit_price) AS s FROM order_items GROUP BY order_id) t ON t.order_id = o.id
SET o.total = t.s;
