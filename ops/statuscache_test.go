package ops

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStatusCacheServesTheLastReadWithItsAge(t *testing.T) {
	var sc statusCache
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := sc.get(t0)
	if s.Mode != "unknown" || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "not read yet") || s.StatusReadAt != nil {
		t.Fatalf("before any read: %+v", s)
	}
	sc.set(Status{}, errors.New("dial tcp: i/o timeout"), t0)
	if s := sc.get(t0.Add(time.Second)); s.Mode != "unknown" || !strings.Contains(strings.Join(s.Warnings, "\n"), "i/o timeout") {
		t.Fatalf("after a failed first read: %+v", s)
	}
	sc.set(Status{Mode: "delta", Checkpoint: "bin.000001:4", Warnings: []string{"w"}}, nil, t0)
	s = sc.get(t0.Add(500 * time.Millisecond))
	if s.Mode != "delta" || s.Checkpoint != "bin.000001:4" || len(s.Warnings) != 1 || s.StatusReadAt == nil || !s.StatusReadAt.Equal(t0) {
		t.Fatalf("fresh: %+v", s)
	}
	s.Warnings[0] = "changed by a caller"
	if got := sc.get(t0).Warnings[0]; got != "w" {
		t.Fatalf("a caller changed the cached warnings: %q", got)
	}
	if s := sc.get(t0.Add(10 * time.Second)); len(s.Warnings) != 2 || !strings.Contains(s.Warnings[1], "10s old") {
		t.Fatalf("late: %+v", s.Warnings)
	}
	sc.set(Status{}, errors.New("source head: context deadline exceeded"), t0.Add(12*time.Second))
	s = sc.get(t0.Add(13 * time.Second))
	if s.Mode != "delta" || s.Checkpoint != "bin.000001:4" || !strings.Contains(s.Warnings[1], "13s old") || !strings.Contains(s.Warnings[1], "deadline exceeded") {
		t.Fatalf("after a failed read: %+v", s)
	}
}
