package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newReplayCmd is `shiplog replay`: the changes on the Kafka topics, printed
// or rebuilt into a scratch database.
func newReplayCmd(a *app) *cobra.Command {
	var ro pipeline.ReplayOptions
	var fromTime, since, until, fromOffsets string
	var tables, keys, ops []string
	replay := &cobra.Command{
		Use:   "replay",
		Short: "print (or rebuild from) the changes on shiplog's Kafka topics, for audit",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			parse := func(flag, v string) time.Time {
				if v == "" || err != nil {
					return time.Time{}
				}
				t, perr := time.Parse(time.RFC3339Nano, v)
				if perr != nil {
					err = usageError{fmt.Errorf("--%s: want an RFC 3339 time such as 2026-11-23T14:00:00Z: %w", flag, perr)}
				}
				return t
			}
			ro.FromTime, ro.Since, ro.Until = parse("from-time", fromTime), parse("since", since), parse("until", until)
			if err != nil {
				return err
			}
			if fromOffsets != "" {
				if ro.FromOffsets, err = parseOffsets(fromOffsets); err != nil {
					return usageError{err}
				}
			}
			if ro.Format != "jsonl" && ro.Format != "table" {
				return usageError{fmt.Errorf("--format: want jsonl or table, not %q", ro.Format)}
			}
			ro.Tables, ro.Keys, ro.Ops = tables, keys, ops
			if !ro.FromBeginning && ro.FromTime.IsZero() && ro.FromOffsets == nil {
				ro.FromBeginning = true
			}
			return a.withRuntime(cmd, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.Replay(ctx, ro, a.stdout)
			})
		},
	}
	rf := replay.Flags()
	rf.BoolVar(&ro.FromBeginning, "from-beginning", false, "read the topics from their first offsets (the default)")
	rf.StringVar(&fromTime, "from-time", "", "start at the first offsets at or after this time (RFC 3339)")
	rf.StringVar(&fromOffsets, "from-offsets", "", "start at these offsets: topic:partition:offset,...")
	rf.StringSliceVar(&tables, "table", nil, "only these source tables")
	rf.StringSliceVar(&keys, "key", nil, `only these keys, as the message key JSON: {"id":5}`)
	rf.StringSliceVar(&ops, "op", nil, "only these ops: c, u, d, r")
	rf.StringVar(&since, "since", "", "only changes committed at or after this time (RFC 3339)")
	rf.StringVar(&until, "until", "", "only changes committed at or before this time (RFC 3339)")
	rf.StringVar(&ro.Format, "format", "jsonl", "jsonl (one change per line) or table (for a person)")
	rf.StringVar(&ro.ApplyTo, "apply-to", "", "also rebuild the tables into this scratch database DSN (user:pass@tcp(host:port)/db) as of --until")
	return replay
}

// parseOffsets reads "topic:partition:offset,...".
func parseOffsets(s string) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{}
	for _, part := range strings.Split(s, ",") {
		i := strings.LastIndexByte(part, ':')
		j := strings.LastIndexByte(part[:max(i, 0)], ':')
		if i <= 0 || j <= 0 {
			return nil, fmt.Errorf("--from-offsets: %q is not topic:partition:offset", part)
		}
		p, err1 := strconv.Atoi(part[j+1 : i])
		o, err2 := strconv.ParseInt(part[i+1:], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--from-offsets: %q is not topic:partition:offset", part)
		}
		if out[part[:j]] == nil {
			out[part[:j]] = map[int]int64{}
		}
		out[part[:j]][p] = o
	}
	return out, nil
}
