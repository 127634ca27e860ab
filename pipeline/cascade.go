package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/transform"
)

// cascades reads the source's foreign keys and compiles those whose ON
// DELETE / ON UPDATE actions reach copied tables: the stream repeats those
// actions on the destination (the server logs neither the child rows they
// change nor fires triggers for them). A key whose action cannot be
// repeated exactly is an error naming it, under every flag.
func (r *Runtime) cascades(ctx context.Context, plan *transform.Plan, log *slog.Logger) (*cascade.Set, error) {
	fks, err := cascade.Load(ctx, r.src, r.cfg.Source.Database)
	if err != nil {
		return nil, err
	}
	set, err := cascade.Compile(fks, plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	if !set.Empty() {
		log.Info("following source foreign key actions", "stage", "delta", "foreign_keys", len(set.Names()))
	}
	return set, nil
}
