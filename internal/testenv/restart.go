package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
)

// Restart starts a server stopped by Kill again, on the same data folder
// and port, and returns once it accepts connections: the crash recovery of
// a real server restart.
func (m *MariaDB) Restart(ctx context.Context) error {
	if m.cmd == nil {
		return fmt.Errorf("restart: the server was never started")
	}
	select {
	case err := <-m.done:
		m.done <- err
	default:
		return fmt.Errorf("restart: the server (pid %d) is still running; Kill it first", m.cmd.Process.Pid)
	}
	cmd := exec.Command(m.cmd.Path, m.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = m.cmd.Stdout, m.cmd.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart mariadbd: %w", err)
	}
	m.cmd = cmd
	m.done = make(chan error, 1)
	go func() { m.done <- cmd.Wait() }()
	return m.waitReady(ctx)
}
