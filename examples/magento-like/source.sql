-- A Magento-1-like source: what the map in map.xml reshapes.
CREATE TABLE sales_flat_order (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  increment_id VARCHAR(32) NOT NULL,
  status VARCHAR(32) NOT NULL,
  customer_email VARCHAR(128) NOT NULL,
  grand_total DECIMAL(12,4) NOT NULL,
  remote_ip VARCHAR(45) NULL,
  created_at INT UNSIGNED NOT NULL,
  customer_note TEXT NULL,
  payment_info TEXT NULL,
  legacy_flag TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customer_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  email VARCHAR(128) NOT NULL,
  firstname VARCHAR(64) NULL,
  lastname VARCHAR(64) NULL,
  created_at DATETIME NOT NULL,
  password_hash VARCHAR(128) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE catalog_product (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  sku VARCHAR(64) NOT NULL,
  price DECIMAL(12,4) NOT NULL,
  weight DECIMAL(12,4) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Left behind: log tables (wildcard ignore) and an extension's table.
CREATE TABLE log_visitor (visitor_id BIGINT NOT NULL PRIMARY KEY, session_id VARCHAR(64)) ENGINE=InnoDB;
CREATE TABLE log_url (url_id BIGINT NOT NULL PRIMARY KEY, visitor_id BIGINT) ENGINE=InnoDB;
CREATE TABLE ext_legacy_widget (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB;

-- Settings (settings mode; the map ignores it in data mode).
CREATE TABLE core_config_data (
  config_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  scope VARCHAR(8) NOT NULL DEFAULT 'default',
  scope_id INT NOT NULL DEFAULT 0,
  path VARCHAR(255) NOT NULL DEFAULT 'general',
  value TEXT NULL,
  UNIQUE KEY (scope, scope_id, path)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
