package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestTimeouts(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	base := "source: {database: a}\ndestination: {database: b}\n"

	cfg, err := Load(writeFile(t, dir, "defaults.yaml", base))
	if err != nil {
		t.Fatal(err)
	}
	want := Timeouts{Connect: 10 * time.Second, Read: 10 * time.Minute, Write: time.Minute, BinlogStall: 10 * time.Second}
	if cfg.Timeouts != want || cfg.Source.Timeouts != want || cfg.Destination.Timeouts != want {
		t.Fatalf("defaults: %+v, source %+v, destination %+v; want %+v", cfg.Timeouts, cfg.Source.Timeouts, cfg.Destination.Timeouts, want)
	}
	dc, err := cfg.Destination.DriverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if dc.Timeout != want.Connect || dc.ReadTimeout != want.Read || dc.WriteTimeout != want.Write {
		t.Fatalf("driver config timeouts %v/%v/%v, want %+v", dc.Timeout, dc.ReadTimeout, dc.WriteTimeout, want)
	}

	t.Setenv("SHIPLOG_TIMEOUTS_BINLOG_STALL", "4s")
	cfg, err = Load(writeFile(t, dir, "set.yaml", base+"timeouts: {connect: 3s, read: 2h, write: 30s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want = Timeouts{Connect: 3 * time.Second, Read: 2 * time.Hour, Write: 30 * time.Second, BinlogStall: 4 * time.Second}
	if cfg.Source.Timeouts != want {
		t.Fatalf("set: %+v, want %+v", cfg.Source.Timeouts, want)
	}
	sc, err := cfg.Source.DriverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Timeout != 3*time.Second || sc.ReadTimeout != 2*time.Hour || sc.WriteTimeout != 30*time.Second {
		t.Fatalf("driver config timeouts %v/%v/%v, want %+v", sc.Timeout, sc.ReadTimeout, sc.WriteTimeout, want)
	}

	os.Unsetenv("SHIPLOG_TIMEOUTS_BINLOG_STALL")
	_, err = Load(writeFile(t, dir, "bad.yaml", base+"timeouts: {connect: 5, reed: 1s}\n"))
	if err == nil || !strings.Contains(err.Error(), "timeouts.connect") || !strings.Contains(err.Error(), "timeouts.reed") {
		t.Fatalf("bad timeouts: %v", err)
	}
}

// A DSN parameter go-sql-driver no longer supports makes it panic; ParseDSN
// (used for throttle.replicas and replay --apply-to) returns an error.
func TestParseDSNRefusesRemovedParametersWithoutPanicking(t *testing.T) {
	if _, err := ParseDSN("u:secret@tcp(127.0.0.1:3306)/db?strict=true"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("strict=true: want an error without the password, got %v", err)
	}
	c, err := ParseDSN("u:secret@tcp(127.0.0.1:3306)/db")
	if err != nil || c.DBName != "db" {
		t.Fatalf("a good DSN: %v, %+v", err, c)
	}
}
