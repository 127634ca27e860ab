package rowio

import gomysql "github.com/go-sql-driver/mysql"

// Charset is the connection character set of every shiplog session:
// without utf8mb4 on the connection, 4-byte characters are lost, and
// AppendLiteral's quoting relies on a charset in which a quote or backslash
// byte is never part of a multi-byte character.
const Charset = "utf8mb4"

// SetCharset gives the connections of c the Charset. Since driver v1.8
// "charset" is no longer special in Params: a Params entry would be sent as
// "SET charset = utf8mb4", which servers reject. gomysql.Charset sends SET
// NAMES and still writes charset=utf8mb4 in the DSN.
func SetCharset(c *gomysql.Config) {
	_ = c.Apply(gomysql.Charset(Charset, "")) // never fails
}
