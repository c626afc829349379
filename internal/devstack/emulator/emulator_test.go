package emulator

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/skip"
)

func TestServicesRunning(t *testing.T) {
	want := []string{"sns", "sqs", "dynamodb"}
	tests := []struct {
		name     string
		health   string
		ready    bool
		errHas   string
		hopeless bool
	}{
		{
			name:   "all running",
			health: `{"services": {"dynamodb": "running", "kinesis": "available", "s3": "disabled", "sns": "running", "sqs": "running"}, "edition": "community", "version": "4.14.0"}`,
			ready:  true,
		},
		{
			name:   "one still starting",
			health: `{"services": {"dynamodb": "available", "sns": "running", "sqs": "running"}}`,
			errHas: "dynamodb is available",
		},
		{
			name:   "one not served",
			health: `{"services": {"dynamodb": "running", "sqs": "running", "sns": "disabled"}}`,
			errHas: "sns is disabled",
		},
		{
			name:   "one missing",
			health: `{"services": {"dynamodb": "running", "sqs": "running"}}`,
			errHas: "sns is missing",
		},
		{
			name:     "one failed",
			health:   `{"services": {"dynamodb": "error", "sns": "running", "sqs": "running"}}`,
			errHas:   "dynamodb is in error",
			hopeless: true,
		},
		{
			name:   "not JSON",
			health: `<html>starting</html>`,
			errHas: "parse LocalStack's health",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready, err := servicesRunning([]byte(tt.health), want)
			if ready != tt.ready {
				t.Errorf("ready = %v; want %v", ready, tt.ready)
			}
			if tt.errHas == "" && err != nil {
				t.Errorf("err = %v; want none", err)
			}
			if tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
				t.Errorf("err = %v; want one saying %q", err, tt.errHas)
			}
			if got := errors.Is(err, errHopeless); got != tt.hopeless {
				t.Errorf("errors.Is(err, errHopeless) = %v; want %v", got, tt.hopeless)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc allows.
	stat := "4242 (java (ddb) x) S 4200 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 31 0 987654 3500000000 40000 18446744073709551615"
	ppid, start, ok := parseStat(stat)
	if !ok || ppid != 4200 || start != "987654" {
		t.Errorf("parseStat = %d, %q, %v; want 4200, \"987654\", true", ppid, start, ok)
	}
	if _, _, ok := parseStat("4242 (truncated"); ok {
		t.Error("parseStat of a truncated line reported ok")
	}
}

// TestStopKillsChildInItsOwnSession starts a shell that starts a child in a
// session of its own, as LocalStack starts DynamoDB Local: SIGTERM to the
// shell's group does not reach the child, and Stop must not leave it behind.
func TestStopKillsChildInItsOwnSession(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		skip.Exempt(t, "no /proc here: the test finds the child below the shell in /proc (Linux)")
	}
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		skip.Exempt(t, "no setsid here: the test starts its child in a session of its own with setsid (util-linux)")
	}
	cmd := exec.Command("sh", "-c", setsid+" sleep 300 & wait")
	s, err := startServer("test", "", cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []proc
	deadline := time.Now().Add(5 * time.Second)
	for len(sleeps) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no sleep started below the shell")
		}
		time.Sleep(20 * time.Millisecond)
		sleeps = slices.DeleteFunc(descendants(cmd.Process.Pid), func(p proc) bool { return comm(p.pid) != "sleep" })
	}

	s.Stop()
	time.Sleep(200 * time.Millisecond)
	for _, p := range sleeps {
		// Killed, the orphan may stay a zombie until init reaps it.
		if _, start, ok := readStat(p.pid); ok && start == p.start && state(p.pid) != "Z" {
			t.Errorf("child %d in its own session outlived Stop", p.pid)
		}
	}
}

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// state is the one-letter state in /proc/PID/stat (R, S, Z, ...).
func state(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2 : i+3]
	}
	return ""
}
