package emulator

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"time"
)

// motoAtomic starts moto's server with DynamoDB's writes made atomic, as
// DynamoDB's are (see the file).
//
//go:embed moto_atomic.py
var motoAtomic string

// StartMoto starts moto's server on 127.0.0.1 at a free port, with
// DynamoDB's conditional writes atomic as on AWS (moto_atomic.py), and waits
// until it answers. Its output goes to logs.
func StartMoto(ctx context.Context, python string, logs io.Writer) (*Moto, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, "-c", motoAtomic, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logs, logs
	s, err := startServer("moto", fmt.Sprintf("http://127.0.0.1:%d", port), cmd, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (with %s: run `make venv`?)", err, python)
	}
	if err := s.waitReady(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		return answers(ctx, s.Endpoint+"/moto-api/data.json")
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// answers reports whether url answers at all.
func answers(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}
