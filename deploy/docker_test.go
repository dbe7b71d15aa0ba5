// Package deploy holds the files that put nanobanana on a host (systemd,
// nginx, Docker). Its own test only checks the Docker files, which cannot be
// run on the project's machines.
package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	line    int
	keyword string
	args    string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start, n := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasPrefix(line, "#") { // a comment inside a continuation
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		kw, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{start, strings.ToUpper(kw), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued instruction", path)
	}
	return out
}

var dockerKeywords = []string{"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY",
	"ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	if len(ins) == 0 || ins[0].keyword != "FROM" && ins[0].keyword != "ARG" {
		t.Fatalf("a Dockerfile starts with FROM (or ARG); got %+v", ins)
	}
	stages := 0
	var final []instruction
	for _, in := range ins {
		if !slices.Contains(dockerKeywords, in.keyword) {
			t.Errorf("line %d: unknown instruction %q", in.line, in.keyword)
		}
		if in.keyword == "FROM" {
			stages++
			final = nil
		}
		final = append(final, in)
	}
	if stages < 2 {
		t.Errorf("want a multi-stage build (build, then a small runtime image); %d stage(s)", stages)
	}
	find := func(kw string) []instruction {
		var r []instruction
		for _, in := range final {
			if in.keyword == kw {
				r = append(r, in)
			}
		}
		return r
	}
	// The runtime stage is what ships: check it alone.
	users := find("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage sets no USER: the app would run as root")
	}
	u := strings.Split(users[len(users)-1].args, ":")[0]
	if u == "root" || u == "0" || u == "" {
		t.Errorf("runtime USER is %q, want a non-root user", u)
	}
	if v := find("VOLUME"); len(v) == 0 || !strings.Contains(v[0].args, "/data") {
		t.Errorf("runtime stage declares no /data volume: %+v", v)
	}
	if e := find("EXPOSE"); len(e) == 0 || e[0].args != "8000" {
		t.Errorf("EXPOSE = %+v, want 8000", e)
	}
	env := ""
	for _, e := range find("ENV") {
		env += e.args + " "
	}
	if !strings.Contains(env, "LISTEN_ADDR=0.0.0.0:8000") {
		t.Errorf("runtime ENV lacks LISTEN_ADDR=0.0.0.0:8000 (the default 127.0.0.1 is unreachable from outside a container): %q", env)
	}
	build := ""
	for _, in := range ins {
		if in.keyword == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build step lacks %s: %q", want, build)
		}
	}
	if ep := find("ENTRYPOINT"); len(ep) == 0 || !strings.Contains(ep[0].args, "nanobanana") {
		t.Errorf("ENTRYPOINT = %+v, want the nanobanana binary", ep)
	}
}

func TestDockerCompose(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Image       string            `yaml:"image"`
			EnvFile     any               `yaml:"env_file"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Volumes     []string          `yaml:"volumes"`
			Profiles    []string          `yaml:"profiles"`
			Restart     string            `yaml:"restart"`
			Command     []string          `yaml:"command"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	// A misspelt key fails here. The struct lists the keys of the compose
	// specification this file uses; add one when the file starts using it.
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	app, ok := c.Services["nanobanana"]
	if !ok {
		t.Fatalf("no nanobanana service; services: %v", c.Services)
	}
	if app.Build == nil {
		t.Error("nanobanana service is not built from the Dockerfile")
	}
	if app.EnvFile == nil {
		t.Error("nanobanana service reads no env_file")
	}
	if len(app.Profiles) != 0 {
		t.Error("the app itself must start without a profile")
	}
	if !slices.Contains(app.Volumes, "nanobanana-data:/data") {
		t.Errorf("app volumes = %v, want nanobanana-data:/data", app.Volumes)
	}
	if app.Environment["LISTEN_ADDR"] != "0.0.0.0:8000" {
		t.Errorf("app LISTEN_ADDR = %q", app.Environment["LISTEN_ADDR"])
	}
	for _, p := range app.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published beyond loopback", p)
		}
	}
	minio, ok := c.Services["minio"]
	if !ok || !slices.Contains(minio.Profiles, "minio") {
		t.Errorf("minio must exist and be optional (profile \"minio\"): %+v", minio)
	}
	for _, s := range c.Services {
		for _, v := range s.Volumes {
			name, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") {
				if _, ok := c.Volumes[name]; !ok {
					t.Errorf("volume %q used but not declared", name)
				}
			}
		}
	}
}
