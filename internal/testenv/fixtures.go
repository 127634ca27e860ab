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
  gen BIGINT AS (i * 2) VIRTUAL,
  gens VARCHAR(120) AS (CONCAT(IFNULL(vc, ''), '!')) PERSISTENT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// TypeMatrixRows fill `types` with limits, NULLs, zero dates, 4-byte characters,
// padding and geometry. Run them with sql_mode = ” (zero dates).
var TypeMatrixRows = []string{
	`SET SESSION sql_mode = '', time_zone = '+00:00'`,
	`INSERT INTO types (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, dec2, f, d, b1, b64, c, vc, t, lt, latin, bin, vb, bl, e, s, j, dt, tm, dtm, ts, yr, g, pt) VALUES
	 (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
	  '-12345678901234567890123456789012345.123456789012345678901234567890', '-99999999.99',
	  -3.4028234e38, -1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
	  'pad', 'héllo 😀 wörld', REPEAT('t', 300), REPEAT('😀', 1000), 'café', 'ab', X'00FF10', X'DEADBEEF00',
	  'ç', 'x,z', '{"a": [1, 2.5, "x"], "b": null}',
	  '0000-00-00', '-838:59:59.000000', '0000-00-00 00:00:00.000000', '2038-01-19 03:14:07.999', 1901,
	  ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), POINT(1.5, -2.25)),
	 (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
	  '12345678901234567890123456789012345.000000000000000000000000000001', '0.01',
	  1.17549435e-38, 2.2250738585072014e-308, b'0', b'0',
	  '', '', '', '', '', X'00000000', '', '',
	  '', '', '[]',
	  '9999-12-31', '838:59:59.999999', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000', 2155,
	  ST_GeomFromText('LINESTRING(0 0,1 1,2 1)'), POINT(0, 0)),
	 (3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9223372036854775808,
	  '0', '0',
	  0.1, 0.1, b'1', b'1000000000000000000000000000000000000000000000000000000000000001',
	  'x', 'tab\there "quote" back\\slash', 'line1\nline2\r\n', 'nul\0byte', 'ÿ', 'z', X'00', X'00',
	  'a', '', '{"emoji": "😀"}',
	  '2024-02-29', '00:00:00.000001', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789', 0,
	  NULL, NULL),
	 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

// TypeMatrixChanges change `types` after a copy so the stream carries every type
// too: updates to the limits, a key change, deletes and new rows.
var TypeMatrixChanges = []string{
	`SET SESSION sql_mode = '', time_zone = '+00:00'`,
	`UPDATE types SET ti = ti - 1, tiu = 254, biu = 18446744073709551614, f = 3.4028234e38, d = 1e-300, b64 = b'1010',
	   vc = CONCAT(vc, ' 🚀'), latin = 'Ærø', bin = X'01', e = 'b', s = 'x,y,z', j = '{"c": 1}',
	   tm = '-00:00:01.5', dtm = '0000-00-00 00:00:00', ts = '2001-02-03 04:05:06.789', yr = 2000 WHERE id = 1`,
	`UPDATE types SET id = 20, vc = 'moved' WHERE id = 2`,
	`DELETE FROM types WHERE id = 3`,
	`INSERT INTO types (id, ti, biu, dec1, f, d, b64, vc, latin, bin, vb, e, s, j, dt, tm, dtm, ts, yr, g)
	   SELECT id + 100, ti, biu, dec1, f, d, b64, vc, latin, bin, vb, e, s, j, dt, tm, dtm, ts, yr, g FROM types WHERE id IN (1, 4)`,
	`UPDATE types SET vc = NULL, j = NULL, g = NULL WHERE id = 101`,
}
