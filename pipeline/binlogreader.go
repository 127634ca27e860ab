package pipeline

import (
	"context"
	"log/slog"
	"strings"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/transform"
)

// binlogReader is a reader of the source's binlog that decodes the tables of
// plan. configuredID uses source.server_id when it is set (the delta
// daemon); otherwise, and always for a second reader next to the daemon (a
// replica id already connected would be disconnected), a random id.
// The parents of followed foreign keys (fks) are decoded too, copied or not.
// unselected, when not nil, is told of the tables of the source database
// outside plan that the binlog shows (binlog.Config.Unselected).
func (r *Runtime) binlogReader(flavor string, plan *transform.Plan, fks *cascade.Set, log *slog.Logger, configuredID bool, unselected func(context.Context, string) error) (*binlog.Reader, error) {
	cfg, err := r.binlogConfig(flavor, plan, fks, log, configuredID, unselected)
	if err != nil {
		return nil, err
	}
	return binlog.NewReader(cfg), nil
}

// binlogConfig is the configuration binlogReader uses.
func (r *Runtime) binlogConfig(flavor string, plan *transform.Plan, fks *cascade.Set, log *slog.Logger, configuredID bool, unselected func(context.Context, string) error) (binlog.Config, error) {
	var serverID uint32 // 0: binlog.NewReader picks one at random
	if configuredID && r.cfg.Source.ServerID != 0 {
		serverID = r.cfg.Source.ServerID
	}
	tlsCfg, err := r.cfg.Source.TLSConfig()
	if err != nil {
		return binlog.Config{}, err
	}
	// Statements may spell a table's name in any case on a source that
	// matches names case-insensitively.
	folded := map[string]bool{}
	for _, tp := range plan.Tables() {
		folded[strings.ToLower(tp.Source.Name)] = true
	}
	return binlog.Config{
		Host: r.cfg.Source.Host, Port: uint16(r.cfg.Source.Port), User: r.cfg.Source.User, Password: r.cfg.Source.Password,
		TLS: tlsCfg, ServerID: serverID, Flavor: flavor, Schema: r.cfg.Source.Database,
		Tables:     func(name string) bool { return plan.Table(name) != nil || fks.Watches(name) },
		TablesFold: func(name string) bool { return folded[strings.ToLower(name)] },
		Unselected: unselected,
		Logger:     log,
		// Zero values (a Config not from config.Load) take the reader's defaults.
		ConnectTimeout: r.cfg.Timeouts.Connect,
		StallTimeout:   r.cfg.Timeouts.BinlogStall,
	}, nil
}
