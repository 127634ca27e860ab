package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cdc"
)

// flagDDLStop holds the DDL statement (JSON ddlStop) the binlog stream last
// stopped at, for `migrate delta --skip-ddl`.
const flagDDLStop = "ddl_stop"

// ErrNoDDLToSkip is returned by Delta with SkipDDL when the stream is not
// stopped at a DDL statement.
var ErrNoDDLToSkip = errors.New("no DDL statement to skip")

// ErrTableChanged is returned by the stream when a table-map event describes a
// mapped table differently from the schema the copy was planned for.
var ErrTableChanged = errors.New("a copied table changed")

type ddlStop struct {
	Pos       string `json:"pos"`
	Statement string `json:"statement"`
	Schema    string `json:"schema"`
	Table     string `json:"table,omitempty"`
}

// ddlStopped records the DDL statement the stream stopped at and returns the
// error delta ends with: the statement, where everything before it is
// applied, and the commands that go on.
func (r *Runtime) ddlStopped(ctx context.Context, ddl *binlog.DDLError) error {
	b, err := json.Marshal(ddlStop{Pos: ddl.Pos.String(), Statement: ddl.Statement, Schema: ddl.Schema, Table: ddl.Table})
	if err != nil {
		return errors.Join(ddl, err)
	}
	if err := r.state.SetFlag(ctx, nil, flagDDLStop, string(b)); err != nil {
		return errors.Join(ddl, err)
	}
	cp, _, ok, err := r.state.Checkpoint(ctx)
	if err != nil {
		return errors.Join(ddl, err)
	}
	if !ok || !samePosition(cp, ddl.Pos) {
		return fmt.Errorf("%w; the checkpoint %s is not at the statement (internal error): copy again with `%s`",
			ddl, cp, r.command("migrate data --reset"))
	}
	return fmt.Errorf("%w. The stream stopped before it: everything before it is applied and checkpointed at %s. "+
		"To go on, apply the equivalent change to the destination by hand (and to the map if columns changed), then run `%s`: "+
		"it checks the new schema against the map and passes this one statement. Or copy everything again: `%s`",
		ddl, cp, r.command("migrate delta --skip-ddl"), r.command("migrate data --reset"))
}

// ddlToSkip returns the DDL statement the stream stopped at, which must be
// where the stream resumes (from).
func (r *Runtime) ddlToSkip(ctx context.Context, from cdc.Position) (*binlog.DDLError, error) {
	text, err := r.state.Flag(ctx, flagDDLStop)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, fmt.Errorf("%w: the stream has not stopped at a DDL statement; run `%s` without --skip-ddl",
			ErrNoDDLToSkip, r.command("migrate delta"))
	}
	var st ddlStop
	if err := json.Unmarshal([]byte(text), &st); err != nil {
		return nil, fmt.Errorf("recorded DDL stop: %w", err)
	}
	pos, err := cdc.ParsePosition(st.Pos)
	if err != nil {
		return nil, fmt.Errorf("recorded DDL stop: %w", err)
	}
	if !samePosition(pos, from) {
		return nil, fmt.Errorf("%w: the checkpoint %s is not at the DDL statement the stream stopped at (%s: %s); run `%s` without --skip-ddl",
			ErrNoDDLToSkip, from, pos, st.Statement, r.command("migrate delta"))
	}
	return &binlog.DDLError{Statement: st.Statement, Schema: st.Schema, Table: st.Table, Pos: pos}, nil
}

// samePosition reports whether two binlog positions are the same place: by
// file and offset when they have them, else by GTID state.
func samePosition(a, b cdc.Position) bool {
	if a.File != "" || b.File != "" {
		return a.File == b.File && a.Pos == b.Pos
	}
	return a.GTID == b.GTID
}

// command is a shiplog command line with this run's --config.
func (r *Runtime) command(args string) string {
	if r.cfg.Path == "" {
		return "shiplog " + args
	}
	path := r.cfg.Path
	if strings.ContainsAny(path, " \t'\"$`\\") {
		path = "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
	}
	return "shiplog --config " + path + " " + args
}
