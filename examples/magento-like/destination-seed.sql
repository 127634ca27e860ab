-- What a fresh Magento 2 installation already holds.
INSERT INTO core_config_data (scope, scope_id, path, value) VALUES
  ('default', 0, 'catalog/frontend/list_mode', 'list'),
  ('default', 0, 'web/secure/base_url', 'https://new.example.com/'),
  ('default', 0, 'general/locale/code', 'en_US');
