// Package step runs a migration mode as a sequence of steps, the unit of
// Magento's Data Migration Tool: config.xml lists, per mode (settings, data,
// delta), the steps to run in order, and each step has up to four stages
// (integrity, data, volume, delta). shiplog's steps are Go types behind the
// Step contract, found by the reference tool's titles and class names in a
// Registry; Run runs a mode's steps in the reference's order.
//
// The package knows nothing of the steps themselves: pipeline registers its
// Settings and Map steps (and whatever steps follow), and wires the Env.
package step

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// Mode is a migration mode: the value of config.xml's <steps mode="...">.
type Mode string

// The reference tool's modes.
const (
	ModeSettings Mode = "settings"
	ModeData     Mode = "data"
	ModeDelta    Mode = "delta"
)

// ErrIntegrity is returned by Run (and Report) when the integrity stages
// found errors that stop the mode.
var ErrIntegrity = errors.New("integrity check failed")

// ErrPartial, wrapped in a stage's error, says the stage finished but some
// rows could not be migrated: they are recorded in _shiplog_failed_rows and
// the next run retries them. The mode goes on with the next stage and Run
// returns the error at the end.
var ErrPartial = errors.New("partial success")

// Step is one migration step: the reference's Map, Settings, EAV, Url Rewrite
// and so on. Run calls its stages one at a time from one goroutine, in the
// order it documents, on one value per mode run, so a step may keep what a
// stage found (the Map step keeps its compiled plan) for its later stages.
// Every stage runs whichever stage classes config.xml names for the step:
// shiplog's stages depend on each other (a copy needs its integrity check's
// plan). A stage with nothing to do returns nil at once.
//
// No stage retries on its own unless it says so; any error other than one
// wrapping ErrPartial stops the mode and is returned by Run unwrapped, so
// sentinel errors and the remedies in error texts reach the user as the step
// wrote them.
type Step interface {
	// Integrity checks, without writing anything, that the step can run
	// against the source and destination as they are: the map and its
	// documents, fields and handlers. It returns what it found; Run reports
	// the problems of every step of the mode together (Report), and errors
	// stop the mode before any Data stage unless env.Auto turns the
	// non-blocking ones into warnings. The error return is for a check that
	// could not run (a lost connection, an unreadable file): it stops the
	// mode at once.
	Integrity(ctx context.Context, env *Env) ([]transform.Problem, error)
	// Data migrates the step's data (data and settings modes), after every
	// step's Integrity passed. It blocks until done; a resumable step
	// commits its progress as it goes so that a killed run continues.
	Data(ctx context.Context, env *Env) error
	// Volume checks what the step's Data (or Delta) wrote, right after it:
	// rows counted on both sides, say. An error (a count that differs) stops
	// the mode.
	Volume(ctx context.Context, env *Env) error
	// Delta is the step's part of delta mode. It may block until ctx ends
	// (the Map step streams changes until stopped) and returns nil at a
	// clean stop; Run then runs no later step.
	Delta(ctx context.Context, env *Env) error
}

// Env is what the steps of one mode run work with. Run hands the same Env to
// every stage; a step must not change it.
type Env struct {
	Mode Mode
	// Source and Destination are the connection pools of both servers, in
	// their databases SourceSchema and DestSchema.
	Source, Destination      *sql.DB
	SourceSchema, DestSchema string
	// Config is the loaded configuration: options, map files, prefixes.
	Config *config.Config
	// State is shiplog's state in the destination: checkpoint, progress,
	// flags, failed rows.
	State *state.State
	// Log carries the mode.
	Log *slog.Logger
	// Auto is --auto: integrity errors that do not block are warnings.
	Auto bool
	// Unknown are the problems of the mode's step list (steps config.xml
	// lists that shiplog does not have; Registry.Select), reported with
	// the integrity stages' (settings, data) or before the first Delta.
	Unknown []transform.Problem
	// Progress records the steps whose data stage finished, so that a
	// later run of the mode skips them (nil: nothing recorded, nothing
	// skipped).
	Progress Progress
}

// StageData names a step's data stage (its Data and, right after, its
// Volume) in Progress.
const StageData = "data"

// Progress is where Run keeps, per mode, the stages of steps that finished
// and which steps the current run ran and skipped (shiplog's destination
// state). Each method blocks until written or read, retries nothing, and
// returns its error as is; Run stops the mode on one.
type Progress interface {
	// Done reports whether stage of the step named step finished in mode,
	// and when.
	Done(ctx context.Context, mode Mode, step, stage string) (at time.Time, done bool, err error)
	// MarkDone records that stage of step finished in mode, now.
	MarkDone(ctx context.Context, mode Mode, step, stage string) error
	// Note records in the current run's record that it ran step (its data
	// stage is starting) or skipped it.
	Note(ctx context.Context, mode Mode, step string, skipped bool) error
}

// DeltaStarter is a Step with something to do or say when delta mode
// starts, before any step's Delta: a step listed after one whose Delta
// streams until stopped (the Map step's) would otherwise never run in a
// delta run. Run calls DeltaStart of every such step of the mode, in order,
// before the first Delta; an error stops the mode, as a Delta's does.
type DeltaStarter interface {
	DeltaStart(ctx context.Context, env *Env) error
}

// Rerunnable is a Step that says whether its data stage runs again on
// every run of its mode although an earlier run finished it: a step that
// resumes by itself (the Map step continues per table and records where
// delta starts), or whose Data is idempotent and cheap. A Step without it
// is skipped once recorded done.
type Rerunnable interface {
	AlwaysRuns() bool
}
