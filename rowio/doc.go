// Package rowio reads and addresses rows of MySQL and MariaDB tables, for
// every package that does (the snapshot copy, verify, the change-log reader,
// cascade, the MySQL sink): identifier quoting and SQL literals that read
// the same whatever the session's sql_mode (literal.go), key encodings for
// map lookups and for state (key.go), keyset chunk and by-key reads over
// the binary protocol in canonical form (query.go, read.go, normalize.go),
// table definitions from information_schema (tables.go), the binary log
// position a server reports (masterstatus.go), snapshots started at an exact
// binary log position (pin.go) and the connection charset of every session
// (session.go).
//
// It is a leaf: it imports only cdc, internal/mysqlerr and the MySQL drivers, never a source, a sink or an orchestration package, so readers of
// rows need no sink and no copier to read them.
package rowio
