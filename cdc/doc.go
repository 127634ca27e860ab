// Package cdc holds the leaf types every shiplog component speaks: where a reader
// is (Position), what changed (Change), whole source transactions (Batch), and the
// shape of a table (Table). It does no I/O.
//
// Row values are []any in the table's column order, in one canonical form that
// every reader produces and every writer accepts:
//
//	NULL                                   nil
//	signed integers                        int64
//	unsigned integers                      uint64
//	FLOAT / DOUBLE                         float32 / float64
//	DECIMAL                                string ("-12.340")
//	BIT                                    uint64
//	YEAR                                   int64
//	DATE, TIME, DATETIME, TIMESTAMP         string in MySQL text form, TIMESTAMP in UTC
//	ENUM, SET                              string (the values, not the indexes)
//	JSON                                   string
//	CHAR, VARCHAR, TEXT, BINARY, VARBINARY,
//	BLOB, GEOMETRY                         []byte, the raw bytes in the column's charset
//	UUID, INET6, INET4 (MariaDB)           []byte, the server's native form: 16, 16 and 4
//	                                       bytes, as the binlog carries them (see NativeLen)
package cdc
