package testenv

// TypeMatrixDDL creates table `types` with every MariaDB column type shiplog must
// round-trip exactly.
const TypeMatrixDDL = `CREATE TABLE types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(65,30), dec2 DECIMAL(10,2),
  f FLOAT, d DOUBLE,
  b1 BIT(1), b64 BIT(64),
  c CHAR(10), vc VARCHAR(100), t TEXT, lt LONGTEXT,
  latin VARCHAR(50) CHARACTER SET latin1,
  bin BINARY(4), vb VARBINARY(50), bl BLOB,
  e ENUM('a','b','ç'), s SET('x','y','z'),
  j JSON,
  dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, yr YEAR,
  g GEOMETRY, pt POINT,
  uu UUID, i4 INET4, i6 INET6,
  gen BIGINT AS (i * 2) VIRTUAL,
  gens VARCHAR(120) AS (CONCAT(IFNULL(vc, ''), '!')) PERSISTENT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// TypeMatrixRows fill `types` with limits, NULLs, zero dates, 4-byte characters,
// padding, geometry and MariaDB's UUID/INET types (nil and all-ones values,
// values ending in zero bytes, which the binlog drops). Run them with
// sql_mode = ” (zero dates).
var TypeMatrixRows = []string{
	`SET SESSION sql_mode = '', time_zone = '+00:00'`,
	`INSERT INTO types (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, dec2, f, d, b1, b64, c, vc, t, lt, latin, bin, vb, bl, e, s, j, dt, tm, dtm, ts, yr, g, pt, uu, i4, i6) VALUES
	 (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
	  '-12345678901234567890123456789012345.123456789012345678901234567890', '-99999999.99',
	  -3.4028234e38, -1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
	  'pad', 'héllo 😀 wörld', REPEAT('t', 300), REPEAT('😀', 1000), 'café', 'ab', X'00FF10', X'DEADBEEF00',
	  'ç', 'x,z', '{"a": [1, 2.5, "x"], "b": null}',
	  '0000-00-00', '-838:59:59.000000', '0000-00-00 00:00:00.000000', '2038-01-19 03:14:07.999', 1901,
	  ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), POINT(1.5, -2.25),
	  'ffffffff-ffff-1fff-bfff-ffffffffffff', '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
	 (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
	  '12345678901234567890123456789012345.000000000000000000000000000001', '0.01',
	  1.17549435e-38, 2.2250738585072014e-308, b'0', b'0',
	  '', '', '', '', '', X'00000000', '', '',
	  '', '', '[]',
	  '9999-12-31', '838:59:59.999999', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000', 2155,
	  ST_GeomFromText('LINESTRING(0 0,1 1,2 1)'), POINT(0, 0),
	  '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::'),
	 (3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9223372036854775808,
	  '0', '0',
	  0.1, 0.1, b'1', b'1000000000000000000000000000000000000000000000000000000000000001',
	  'x', 'tab\there "quote" back\\slash', 'line1\nline2\r\n', 'nul\0byte', 'ÿ', 'z', X'00', X'00',
	  'a', '', '{"emoji": "😀"}',
	  '2024-02-29', '00:00:00.000001', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789', 0,
	  NULL, NULL, '123e4567-e89b-12d3-a456-426600000000', '10.0.0.0', '2001:db8::'),
	 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

// TypeMatrixChanges change `types` after a copy so the stream carries every type
// too: updates to the limits, a key change, deletes and new rows.
var TypeMatrixChanges = []string{
	`SET SESSION sql_mode = '', time_zone = '+00:00'`,
	`UPDATE types SET ti = ti - 1, tiu = 254, biu = 18446744073709551614, f = 3.4028234e38, d = 1e-300, b64 = b'1010',
	   vc = CONCAT(vc, ' 🚀'), latin = 'Ærø', bin = X'01', e = 'b', s = 'x,y,z', j = '{"c": 1}',
	   tm = '-00:00:01.5', dtm = '0000-00-00 00:00:00', ts = '2001-02-03 04:05:06.789', yr = 2000,
	   uu = '01890a5d-ac96-7b3e-8000-000000000000', i4 = '192.168.0.0', i6 = '::ffff:10.0.0.1' WHERE id = 1`,
	`UPDATE types SET id = 20, vc = 'moved' WHERE id = 2`,
	`DELETE FROM types WHERE id = 3`,
	`INSERT INTO types (id, ti, biu, dec1, f, d, b64, vc, latin, bin, vb, e, s, j, dt, tm, dtm, ts, yr, g, uu, i4, i6)
	   SELECT id + 100, ti, biu, dec1, f, d, b64, vc, latin, bin, vb, e, s, j, dt, tm, dtm, ts, yr, g, uu, i4, i6 FROM types WHERE id IN (1, 4)`,
	`UPDATE types SET vc = NULL, j = NULL, g = NULL, i6 = NULL, uu = '00000000-0000-0000-0000-000000000000', i4 = '0.0.0.0' WHERE id = 101`,
}

// TypeMatrixKeyDDL creates tables keyed by MariaDB's UUID, INET6 and INET4
// types: their copies and verifications page through the keys, so a key
// condition that the server does not read as the value itself loses rows.
var TypeMatrixKeyDDL = []string{
	`CREATE TABLE types_uuid (u UUID NOT NULL PRIMARY KEY, i4 INET4, i6 INET6, n INT NOT NULL)`,
	`CREATE TABLE types_inet (a INET6 NOT NULL, b INET4 NOT NULL, u UUID, n INT NOT NULL, PRIMARY KEY (a, b))`,
}

// TypeMatrixKeyRows fill the TypeMatrixKeyDDL tables with 300 rows each:
// UUIDs of versions 1, 4 and 7 and of several variants (the server orders
// time-based ones by their node and clock first), addresses in IPv4-mapped,
// documentation and link-local form, and values ending in zero bytes.
var TypeMatrixKeyRows = []string{
	`INSERT INTO types_uuid SELECT
	   CONCAT(LPAD(HEX((seq * 7919) % 65536), 8, '0'), '-', LPAD(HEX(seq % 7), 4, '0'), '-',
	     ELT(1 + seq % 3, '1', '4', '7'), LPAD(HEX(seq % 4096), 3, '0'), '-', ELT(1 + seq % 4, '8', '0', 'c', 'a'), '000-',
	     IF(seq % 5 = 0, '000000000000', LPAD(HEX(seq), 12, '0'))),
	   IF(seq % 9 = 0, NULL, CONCAT(seq % 256, '.', seq DIV 256, '.0.0')),
	   ELT(1 + seq % 3, CONCAT('2001:db8::', HEX(seq), ':0'), CONCAT('::ffff:10.0.', seq % 256, '.', seq DIV 256), NULL),
	   seq FROM seq_1_to_300`,
	`INSERT INTO types_uuid VALUES ('00000000-0000-0000-0000-000000000000', '0.0.0.0', '::', 0),
	   ('ffffffff-ffff-ffff-ffff-ffffffffffff', '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 301)`,
	`INSERT INTO types_inet SELECT
	   ELT(1 + (seq DIV 2) % 3, CONCAT('2001:db8:', HEX(seq DIV 2), '::'), CONCAT('::ffff:10.0.', (seq DIV 2) % 256, '.', seq DIV 512),
	     CONCAT('fe80::', HEX(seq DIV 2))),
	   IF(seq % 2 = 0, '0.0.0.0', CONCAT('10.', seq % 7, '.0.0')),
	   IF(seq % 4 = 0, NULL, CONCAT('a0a0a0a0-0000-', ELT(1 + seq % 2, '1', '7'), '000-8000-', LPAD(HEX(seq), 12, '0'))),
	   seq FROM seq_1_to_300`,
}

// TypeMatrixKeyChanges change the TypeMatrixKeyDDL tables after a copy:
// updates of values and of keys, deletes and new rows.
var TypeMatrixKeyChanges = []string{
	`UPDATE types_uuid SET n = n + 1000, i6 = IF(i6 IS NULL, '::1', NULL), i4 = '0.0.0.0' WHERE n % 10 = 3`,
	`UPDATE types_uuid SET u = CONCAT('b0b0b0b0-0000-7000-8000-', LPAD(HEX(n), 12, '0')) WHERE n % 25 = 7`,
	`DELETE FROM types_uuid WHERE n % 30 = 11`,
	`INSERT INTO types_uuid SELECT CONCAT('c0c0c0c0-0000-1000-9000-', LPAD(HEX(seq), 8, '0'), '0000'), '1.0.0.0', '2001:db8::', 400 + seq FROM seq_1_to_20`,
	`UPDATE types_inet SET b = '192.168.0.0', u = '00000000-0000-0000-0000-000000000000' WHERE n % 20 = 5`,
	`UPDATE types_inet SET a = '::ffff:255.255.0.0' WHERE n = 17`,
	`DELETE FROM types_inet WHERE n % 30 = 29`,
	`INSERT INTO types_inet VALUES ('::', '0.0.0.0', NULL, 1000), ('fe80::ffff:0', '0.0.0.0', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 1001)`,
}
