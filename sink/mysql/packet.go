package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// maxPacketLimit is the largest max_allowed_packet a server accepts (1 GiB).
const maxPacketLimit = 1 << 30

// packetTooLarge reports whether err is a statement of stmtLen bytes refused
// for its size, by the server or by the driver before sending it. The server
// answers 1153 and closes the connection, but a client still writing the
// statement often sees only the reset: then the statement is measured
// against the destination's max_allowed_packet, which is returned when read.
func (w *Writer) packetTooLarge(ctx context.Context, stmtLen int, err error) (bool, int64) {
	// ER_NET_PACKET_TOO_LARGE: a statement longer than the server's
	// max_allowed_packet. The server closes the connection.
	if n, ok := mysqlerr.Number(err); ok {
		if n != gmysql.ER_NET_PACKET_TOO_LARGE {
			return false, 0
		}
		limit, _ := w.maxAllowedPacket(ctx)
		return true, limit
	}
	// 1024 is the smallest max_allowed_packet a server takes.
	if ctx.Err() != nil || stmtLen < 1024 {
		return false, 0
	}
	limit, qerr := w.maxAllowedPacket(ctx)
	if errors.Is(err, gomysql.ErrPktTooLarge) {
		return true, limit
	}
	return qerr == nil && int64(stmtLen) >= limit, limit
}

// maxAllowedPacket reads the destination's max_allowed_packet on a new
// connection (the one that failed is gone).
func (w *Writer) maxAllowedPacket(ctx context.Context) (int64, error) {
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var limit int64
	err := w.db.QueryRowContext(qctx, "SELECT @@GLOBAL.max_allowed_packet").Scan(&limit)
	return limit, err
}

// packetError explains err, a statement of ops (of one kind and table,
// stmtLen bytes) refused for its size: it names the table, the key of the
// largest row, the destination's max_allowed_packet (limit, 0 if unknown)
// and the value to raise it to. The error wraps err.
func packetError(ops []op, stmtLen int, limit int64, err error) error {
	t := ops[0].table
	largest, rowLen := 0, -1
	var scratch []byte
	for i, o := range ops {
		scratch = scratch[:0]
		for j, v := range o.row {
			c := &t.Columns[j]
			if o.kind == opDelete && j < len(t.Key) {
				c = &t.Columns[t.Key[j]]
			}
			scratch, _ = rowio.AppendLiteral(scratch, v, c)
		}
		if len(scratch) > rowLen {
			largest, rowLen = i, len(scratch)
		}
	}
	current := "value unknown"
	if limit > 0 {
		current = fmt.Sprint(limit)
	}
	// The statement again with some room, in whole MiB.
	want := min((int64(stmtLen)+1<<20+1<<20-1)>>20<<20, maxPacketLimit)
	remedy := fmt.Sprintf("raise it on the destination: SET GLOBAL max_allowed_packet = %d (and max_allowed_packet in the server's configuration file, so a restart keeps it), then run shiplog again", want)
	if int64(stmtLen) > maxPacketLimit {
		remedy = "no server accepts a statement over 1 GiB: shrink the row in the source, or leave the column out in the map"
	}
	how := fmt.Sprintf("the %s of the row %s (%d bytes as SQL", ops[0].kind, rowKey(t, ops[largest]), rowLen)
	if len(ops) > 1 {
		how += fmt.Sprintf("; the statement of %d rows holding it is %d bytes", len(ops), stmtLen)
	}
	how += ")"
	return fmt.Errorf("destination table %s: %s is over the destination's max_allowed_packet (%s): %s: %w",
		t.Name, how, current, remedy, err)
}

// rowKey names the key of o's row as "col=value, ...".
func rowKey(t *cdc.Table, o op) string {
	var b strings.Builder
	for i, k := range t.Key {
		v := o.row[k]
		if o.kind == opDelete {
			v = o.row[i]
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.Columns[k].Name)
		b.WriteByte('=')
		lit, err := rowio.AppendLiteral(nil, v, &t.Columns[k])
		if err != nil || len(lit) > 200 {
			fmt.Fprintf(&b, "%v", v)
			continue
		}
		b.Write(lit)
	}
	if len(t.Key) == 0 {
		return "(a table without a key)"
	}
	return b.String()
}
