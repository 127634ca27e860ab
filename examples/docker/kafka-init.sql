-- For the Kafka profile of docker-compose.yml: the publisher's state database and
-- the applier's destination database (the shop schema again).
CREATE DATABASE IF NOT EXISTS shiplog_state;
CREATE DATABASE IF NOT EXISTS shop_kafka;
USE shop_kafka;
-- A small shop: the demo database for shiplog (make demo, docker-compose.yml).
-- Runs unchanged on MariaDB 10.5+ and MySQL 8.0+, in the current database.
-- No foreign keys, so tables can be loaded and applied in any order.

CREATE TABLE customers (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
  email       VARCHAR(190) NOT NULL,
  name        VARCHAR(100) NOT NULL,
  city        VARCHAR(100) NULL,
  tier        ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze',
  prefs       JSON NULL,
  created_at  DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_customers_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE products (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
  sku         VARCHAR(32) NOT NULL,
  title       VARCHAR(200) NOT NULL,
  description TEXT NULL,
  price       DECIMAL(10,2) NOT NULL,
  weight_kg   DOUBLE NULL,
  stock       INT NOT NULL DEFAULT 0,
  attributes  JSON NULL,
  updated_at  DATETIME NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_products_sku (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE orders (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  customer_id INT UNSIGNED NOT NULL,
  status      ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  total       DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  note        VARCHAR(255) NULL,
  placed_at   DATETIME(3) NOT NULL,
  shipped_on  DATE NULL,
  PRIMARY KEY (id),
  KEY ix_orders_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE order_items (
  order_id    BIGINT UNSIGNED NOT NULL,
  line        SMALLINT UNSIGNED NOT NULL,
  product_id  INT UNSIGNED NOT NULL,
  qty         INT NOT NULL,
  unit_price  DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, line),
  KEY ix_order_items_product (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
