package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/shiplog/shiplog/binlog"
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
	stopServer, err := ops.Serve(ctx, r.ops, ops.ServerConfig{HTTP: r.cfg.HTTP, Log: r.log, Status: r.Status, Lag: r.lagProbe()})
	if err != nil {
		stopWatch()
		return nil, err
	}
	return func() {
		stopServer()
		stopWatch()
	}, nil
}

// lagProbe measures, for the server's shiplog_lag_bytes, the binlog between
// the checkpoint and the source head; nil when delta reads change logs.
// Its result is used by one goroutine only.
func (r *Runtime) lagProbe() func(context.Context) (int64, time.Time, bool, error) {
	if r.triggers() {
		return nil
	}
	var flavor string
	return func(ctx context.Context) (int64, time.Time, bool, error) {
		if flavor == "" {
			f, err := binlog.CheckServer(ctx, r.src)
			if err != nil {
				return 0, time.Time{}, false, err
			}
			flavor = f
		}
		ckpt, ckptTime, ok, err := r.state.Checkpoint(ctx)
		if err != nil || !ok {
			return 0, time.Time{}, false, err
		}
		head, err := binlog.HeadPosition(ctx, r.src, flavor)
		if err != nil {
			return 0, time.Time{}, false, err
		}
		n, err := binlog.LagBytes(ctx, r.src, ckpt, head)
		if err != nil {
			return 0, time.Time{}, false, err
		}
		return n, ckptTime, true, nil
	}
}
