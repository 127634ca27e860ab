// Package deploy checks the files users deploy with (docker-compose.yml,
// Dockerfile, examples/docker) without Docker: they must agree with each other
// and with the configuration shiplog reads.
package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shiplog/shiplog/config"
)

type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       build             `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

func loadCompose(t *testing.T) (string, compose) {
	t.Helper()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return root, c
}

func TestComposeServices(t *testing.T) {
	_, c := loadCompose(t)
	for _, name := range []string{"source", "destination", "shiplog"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	for _, name := range []string{"source", "destination"} {
		s := c.Services[name]
		if !strings.HasPrefix(s.Image, "mysql:8") {
			t.Errorf("%s image = %q, want mysql:8.x", name, s.Image)
		}
		if len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
}

func TestComposeSourceBinlogFlags(t *testing.T) {
	_, c := loadCompose(t)
	cmd := c.Services["source"].Command
	for _, want := range []string{"--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL"} {
		if !slices.Contains(cmd, want) {
			t.Errorf("source command lacks %s: %v", want, cmd)
		}
	}
	hasLogBin := false
	for _, arg := range cmd {
		if arg == "--log-bin" || strings.HasPrefix(arg, "--log-bin=") {
			hasLogBin = true
		}
	}
	if !hasLogBin {
		t.Errorf("source command lacks --log-bin: %v", cmd)
	}
}

func TestComposeShiplogService(t *testing.T) {
	root, c := loadCompose(t)
	s := c.Services["shiplog"]
	if s.Build.Context != "." || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("shiplog build = %+v, want context . and Dockerfile", s.Build)
	}
	if !slices.Contains(s.Command, "run") {
		t.Errorf("shiplog command %v does not run the daemon (run)", s.Command)
	}
	for _, dep := range []string{"source", "destination"} {
		if d, ok := s.DependsOn[dep]; !ok || d.Condition != "service_healthy" {
			t.Errorf("shiplog should depend on %s being healthy, got %+v", dep, s.DependsOn)
		}
	}
	for _, env := range []string{"SHIPLOG_SOURCE_PASSWORD", "SHIPLOG_DESTINATION_PASSWORD"} {
		if _, ok := s.Environment[env]; !ok {
			t.Errorf("shiplog environment lacks %s", env)
		}
	}

	// The --config path must be a mounted file that exists in the repository.
	cfgPath := ""
	for i, arg := range s.Command {
		if arg == "--config" && i+1 < len(s.Command) {
			cfgPath = s.Command[i+1]
		}
	}
	if cfgPath == "" {
		t.Fatalf("shiplog command %v has no --config", s.Command)
	}
	hostFile := ""
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == cfgPath {
			hostFile = parts[0]
		}
	}
	if hostFile == "" {
		t.Fatalf("config %s is not mounted into the shiplog service: %v", cfgPath, s.Volumes)
	}
	checkConfig(t, filepath.Join(root, hostFile))
}

// Every file mounted from the repository exists.
func TestComposeMountsExist(t *testing.T) {
	root, c := loadCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			host := strings.Split(v, ":")[0]
			if !strings.HasPrefix(host, "./") {
				continue // a named volume
			}
			if _, err := os.Stat(filepath.Join(root, host)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, host, err)
			}
		}
	}
}

// checkConfig asserts the mounted shiplog configuration has exactly the keys
// shiplog reads, and no passwords (they come from the environment).
func checkConfig(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("config mounted by docker-compose.yml: %v", err)
	}
	var cfg map[string]map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	conn := []string{"host", "port", "user", "password", "database", "tls", "server_id"}
	allowed := map[string][]string{
		"source":      conn,
		"destination": conn,
		"options":     {"bulk_size", "source_prefix", "dest_prefix", "workers"},
	}
	required := map[string][]string{
		"source":      {"host", "port", "user", "database", "server_id"},
		"destination": {"host", "port", "user", "database"},
	}
	for section := range cfg {
		if _, ok := allowed[section]; !ok {
			t.Errorf("%s: unexpected section %q", path, section)
		}
	}
	for section, keys := range allowed {
		got, ok := cfg[section]
		if !ok {
			t.Errorf("%s: section %q missing", path, section)
			continue
		}
		for k := range got {
			if !slices.Contains(keys, k) {
				t.Errorf("%s: unexpected key %s.%s", path, section, k)
			}
		}
		for _, k := range required[section] {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: key %s.%s missing", path, section, k)
			}
		}
		if p, ok := got["password"]; ok && p != "" && p != nil {
			t.Errorf("%s: %s.password is set in the file; use SHIPLOG_%s_PASSWORD", path, section, strings.ToUpper(section))
		}
	}
	if h := cfg["source"]["host"]; h != "source" {
		t.Errorf("source.host = %v, want the compose service name source", h)
	}
	if h := cfg["destination"]["host"]; h != "destination" {
		t.Errorf("destination.host = %v, want the compose service name destination", h)
	}
}

func TestDockerfileBuildsCLI(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !regexp.MustCompile(`(?m)^RUN .*go build .*\./cmd/shiplog\b`).MatchString(text) {
		t.Error("Dockerfile does not go build ./cmd/shiplog")
	}
	if n := len(regexp.MustCompile(`(?mi)^FROM `).FindAllString(text, -1)); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT .*shiplog`).MatchString(text) {
		t.Error("Dockerfile has no shiplog ENTRYPOINT")
	}
}

// TestComposeKafkaProfile checks the Kafka profile: an Apache Kafka broker, a
// publisher and an applier whose configurations load with shiplog's own
// loader (so a key typo fails here, not in a user's terminal).
func TestComposeKafkaProfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image    string   `yaml:"image"`
			Profiles []string `yaml:"profiles"`
			Command  []string `yaml:"command"`
			Volumes  []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	k, ok := doc.Services["kafka"]
	if !ok || !strings.HasPrefix(k.Image, "apache/kafka") || !slices.Contains(k.Profiles, "kafka") {
		t.Fatalf("kafka service: %+v", k)
	}
	for name, want := range map[string]string{"shiplog-publisher": "run", "shiplog-applier": "--from-kafka"} {
		s, ok := doc.Services[name]
		if !ok || !slices.Contains(s.Command, want) {
			t.Fatalf("%s: %+v", name, s)
		}
		for _, v := range s.Volumes {
			host := strings.SplitN(v, ":", 2)[0]
			if !strings.HasSuffix(host, ".yaml") {
				continue
			}
			cfg, err := config.Load(filepath.Join(repoRoot(t), host))
			if err != nil {
				t.Fatalf("%s config %s: %v", name, host, err)
			}
			if len(cfg.Kafka.Brokers) == 0 || cfg.Kafka.Brokers[0] != "kafka:9092" {
				t.Fatalf("%s config %s: brokers %v", name, host, cfg.Kafka.Brokers)
			}
		}
	}
}
