package pipeline

import (
	"context"
	"errors"

	"github.com/shiplog/shiplog/ops"
)

// serve starts what serves the run's operations object (r.ops) while the
// command runs: the replica-lag monitor when throttle.replicas is set and,
// when http.listen is set, the status and control server. done stops them.
func (r *Runtime) serve(ctx context.Context) (done func(), err error) {
	if r.ops == nil {
		return nil, errors.New("serving status and control needs the command's operations object: call SetOps first")
	}
	stopWatch := ops.WatchReplicas(ctx, r.ops, ops.ReplicaWatch{
		Throttle: r.cfg.Throttle, Primary: r.dst, Schema: r.cfg.Destination.Database, Log: r.log,
	})
	stopServer, err := ops.Serve(ctx, r.ops, ops.ServerConfig{HTTP: r.cfg.HTTP, Log: r.log, Status: r.Status, Lag: r.source.lag})
	if err != nil {
		stopWatch()
		return nil, err
	}
	return func() {
		stopServer()
		stopWatch()
	}, nil
}
