-- Rows for the source (MariaDB: seq_1_to_N tables come with the Sequence engine).
INSERT INTO sales_flat_order
SELECT seq, CONCAT('1000', seq),
       ELT(1 + seq % 5, 'pending', 'processing', 'complete', 'canceled', 'holded'),
       CONCAT('Customer', seq, '@Example.COM'), seq * 10.5,
       IF(seq % 7 = 0, NULL, CONCAT('10.0.', seq % 256, '.', (seq * 7) % 256)),
       1600000000 + seq * 3600,
       IF(seq % 3 = 0, NULL, CONCAT('note ', seq, ' ✓')),
       ELT(1 + seq % 3, 'a:2:{s:6:"method";s:6:"checkm";s:4:"paid";b:1;}', 'a:1:{i:0;s:3:"one";}', NULL),
       seq % 2
FROM seq_1_to_300;

INSERT INTO customer_entity
SELECT seq, CONCAT('c', seq, '@example.com'), CONCAT('First', seq), CONCAT('Last ', seq, ' ü'),
       '2020-03-01 10:00:00' + INTERVAL seq HOUR, SHA2(CONCAT('pw', seq), 256)
FROM seq_1_to_200;

INSERT INTO catalog_product SELECT seq, CONCAT('SKU-', seq), seq * 1.99, IF(seq % 4 = 0, NULL, seq / 8) FROM seq_1_to_50;
INSERT INTO log_visitor SELECT seq, MD5(seq) FROM seq_1_to_100;
INSERT INTO ext_legacy_widget VALUES (1, 1);

INSERT INTO core_config_data (scope, scope_id, path, value) VALUES
  ('default', 0, 'general/locale/timezone', 'Europe/Kiev'),
  ('default', 0, 'design/head/default_title', 'Shop'),
  ('websites', 1, 'design/head/default_title', 'Shop One'),
  ('default', 0, 'web/secure/base_url_old', 'https://old.example.com/'),
  ('default', 0, 'dev/log/active', '1'),
  ('default', 0, 'advanced/modules_disable_output/Mage_Poll', '1'),
  ('default', 0, 'catalog/frontend/list_mode', 'grid'),
  ('stores', 2, 'general/locale/timezone', 'America/New_York');
