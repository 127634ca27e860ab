// Package ops holds the operations side of one shiplog command: what lets a
// person watch and steer it while it runs, and nothing that moves data.
//
//   - Control (control.go): the run's Prometheus metrics, loop state, pause
//     gate, live batch bound, replica-lag throttle and destination-retry
//     status. A command creates one and hands it to the pipeline
//     explicitly; stream loops call Hold before each batch, BatchLimit,
//     ObserveBatch, CountError, SetState and EndLoop. A nil *Control is a
//     valid no-op.
//   - Serve (http.go, httpguard.go, statuscache.go): the status and control
//     HTTP server (/metrics, /status, /healthz, /pause, /resume, /throttle)
//     behind its access guard; /status answers from memory.
//   - WatchReplicas (replicalag.go): the replica-lag monitor that throttles
//     the writer through the Control.
//   - Progress (progress.go): the snapshot's progress bars or log lines.
//   - Status (status.go): the shape of `shiplog status` and /status.
//
// ops may import cdc, config and sink/mysql (quoting, the state tables'
// types) besides the standard library and Prometheus; it must not import
// pipeline, the readers (binlog, deltalog, snapshot) or transform. What it
// needs from them (reading the status, measuring the binlog lag) is passed
// in as functions.
package ops
