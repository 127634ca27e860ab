package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newMigrateCmd is `shiplog migrate`: the migration modes as subcommands.
func newMigrateCmd(a *app) *cobra.Command {
	migrate := &cobra.Command{Use: "migrate", Short: "run a migration mode (data, delta)", Args: noArgs}
	migrate.AddCommand(newMigrateSettingsCmd(a), newMigrateDataCmd(a), newMigrateDeltaCmd(a))
	return migrate
}

// newMigrateSettingsCmd is `shiplog migrate settings`.
func newMigrateSettingsCmd(a *app) *cobra.Command {
	var auto, reset bool
	settings := a.runtimeCmd("settings", "merge the source's settings table (core_config_data) into the destination through settings.xml; with config.xml's Stores step, copy stores, groups and websites", pipeline.Work{},
		func(ctx context.Context, r *pipeline.Runtime) error {
			_, err := r.Settings(ctx, pipeline.SettingsOptions{Auto: auto, Reset: reset})
			return err
		})
	settings.Flags().BoolVar(&auto, "auto", false, "go on past settings whose handler cannot run: they are recorded as failed rows, not migrated")
	settings.Flags().BoolVar(&reset, "reset", false, "run again the steps an earlier run finished (Stores)")
	return settings
}

// newMigrateDataCmd is `shiplog migrate data`.
func newMigrateDataCmd(a *app) *cobra.Command {
	var reset, auto bool
	data := a.runtimeCmd("data", "integrity check, consistent copy of every table, volume check; records where delta starts", pipeline.Work{Copy: true},
		func(ctx context.Context, r *pipeline.Runtime) error {
			return r.Data(ctx, pipeline.DataOptions{Reset: reset, Auto: auto})
		})
	data.Flags().BoolVar(&reset, "reset", false, "forget progress and copy everything again")
	data.Flags().BoolVar(&auto, "auto", false, "continue when the integrity check finds errors (reported as warnings)")
	return data
}

// newMigrateDeltaCmd is `shiplog migrate delta`.
func newMigrateDeltaCmd(a *app) *cobra.Command {
	var exitCaughtUp, skipDDL, ignoreEmptied bool
	delta := a.runtimeCmd("delta", "stream changes from the recorded position until stopped (SIGINT/SIGTERM)", pipeline.Work{Stream: true},
		func(ctx context.Context, r *pipeline.Runtime) error {
			return r.Delta(ctx, pipeline.DeltaOptions{ExitWhenCaughtUp: exitCaughtUp, SkipDDL: skipDDL, IgnoreEmptiedTables: ignoreEmptied})
		})
	delta.Flags().BoolVar(&exitCaughtUp, "exit-when-caught-up", false, "exit 0 once everything the source had written at start is applied")
	delta.Flags().BoolVar(&ignoreEmptied, "ignore-emptied-tables", false, "start although copied tables look emptied on the destination: only when the source emptied and refilled them and the stream brings the rows")
	delta.Flags().BoolVar(&skipDDL, "skip-ddl", false, "pass the DDL statement the stream stopped at, after applying the equivalent change to the destination by hand (the new schema is checked against the map)")
	return delta
}
