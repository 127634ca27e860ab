package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newApplyCmd is `shiplog apply --from-kafka`.
func newApplyCmd(a *app) *cobra.Command {
	var fromKafka, applyCaughtUp bool
	apply := &cobra.Command{
		Use:   "apply --from-kafka",
		Short: "apply changes from shiplog's Kafka topics to the destination, in a consumer group, exactly once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !fromKafka {
				return usageError{errors.New("apply: --from-kafka is required (the only source apply reads)")}
			}
			return a.withRuntimeFor(cmd, pipeline.Work{Apply: true}, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.ApplyFromKafkaWith(ctx, pipeline.ApplyOptions{ExitWhenCaughtUp: applyCaughtUp})
			})
		},
	}
	apply.Flags().BoolVar(&fromKafka, "from-kafka", false, "read the topics of kafka.topic_prefix")
	apply.Flags().BoolVar(&applyCaughtUp, "exit-when-caught-up", false, "exit 0 once every assigned partition reached its end at start")
	return apply
}
