package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseArgs(t *testing.T) {
	defaults := options{
		emulator:  emulatorChoice{kind: "moto", python: ".venv/bin/python", localstack: ".venv-localstack"},
		workspace: "copilot", envName: "local", bin: "bin", port: 5000,
	}
	with := func(f func(*options)) options {
		o := defaults
		f(&o)
		return o
	}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		want   options
		errHas string
	}{
		{
			name: "run with defaults: moto, not chosen",
			args: []string{"dev", "run"},
			want: with(func(o *options) { o.command = "run" }),
		},
		{
			name: "exec on LocalStack by flag",
			args: []string{"dev", "exec", "-emulator", "localstack", "-localstack", "/opt/ls", "--", "go", "test", "./..."},
			want: with(func(o *options) {
				o.command = "exec"
				o.emulator = emulatorChoice{kind: "localstack", explicit: true, python: ".venv/bin/python", localstack: "/opt/ls"}
				o.argv = []string{"go", "test", "./..."}
			}),
		},
		{
			name: "EMULATOR chooses",
			args: []string{"dev", "run", "-env", "e1", "-port", "5050"},
			env:  map[string]string{"EMULATOR": "localstack"},
			want: with(func(o *options) {
				o.command, o.envName, o.port = "run", "e1", 5050
				o.emulator.kind, o.emulator.explicit = "localstack", true
			}),
		},
		{
			name: "the flag wins over EMULATOR",
			args: []string{"dev", "run", "-emulator=moto", "-python", "/p/python"},
			env:  map[string]string{"EMULATOR": "localstack"},
			want: with(func(o *options) {
				o.command = "run"
				o.emulator = emulatorChoice{kind: "moto", explicit: true, python: "/p/python", localstack: ".venv-localstack"}
			}),
		},
		{
			name: "moto chosen explicitly",
			args: []string{"dev", "exec", "-emulator", "moto", "true"},
			want: with(func(o *options) {
				o.command, o.argv = "exec", []string{"true"}
				o.emulator.explicit = true
			}),
		},
		{name: "unknown emulator", args: []string{"dev", "run", "-emulator", "localstak"}, errHas: `-emulator "localstak": want moto or localstack`},
		{name: "unknown emulator from EMULATOR", args: []string{"dev", "run"}, env: map[string]string{"EMULATOR": "docker"}, errHas: `-emulator "docker"`},
		{name: "exec without a command", args: []string{"dev", "exec", "-emulator", "localstack"}, errHas: "usage: dev exec"},
		{name: "no command", args: []string{"dev"}, errHas: "usage: dev run|exec"},
		{name: "unknown command", args: []string{"dev", "serve"}, errHas: `unknown command "serve"`},
		{name: "unknown flag", args: []string{"dev", "run", "-emulators", "moto"}, errHas: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, func(k string) string { return tt.env[k] })
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v; want one saying %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(options{}, emulatorChoice{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseArgs (-want +got):\n%s", diff)
			}
		})
	}
}
