-- A Magento-2-like destination.
CREATE TABLE sales_order (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  increment_id VARCHAR(40) NOT NULL,
  status VARCHAR(32) NOT NULL,
  customer_email VARCHAR(128) NOT NULL,
  grand_total DECIMAL(12,4) NOT NULL,
  remote_ip BIGINT NULL,
  created_at DATETIME NULL,
  note TEXT NULL,
  payment_info TEXT NULL,
  store_name VARCHAR(64) NOT NULL,
  send_email TINYINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customer_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  email VARCHAR(128) NOT NULL,
  firstname VARCHAR(64) NULL,
  lastname VARCHAR(64) NULL,
  created_at TIMESTAMP NULL,
  password_hash VARCHAR(128) NOT NULL DEFAULT 'reset-required',
  rp_token VARCHAR(128) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE catalog_product_entity (
  entity_id INT UNSIGNED NOT NULL PRIMARY KEY,
  sku VARCHAR(64) NOT NULL,
  price DECIMAL(12,4) NOT NULL,
  weight DOUBLE NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Magento 2 only; nothing fills it.
CREATE TABLE m2_new_feature (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;

CREATE TABLE core_config_data (
  config_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  scope VARCHAR(8) NOT NULL DEFAULT 'default',
  scope_id INT NOT NULL DEFAULT 0,
  path VARCHAR(255) NOT NULL DEFAULT 'general',
  value TEXT NULL,
  UNIQUE KEY (scope, scope_id, path)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
