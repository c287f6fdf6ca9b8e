package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// services are the drill's own PostgreSQL and Redis, started through
// scripts/services.sh in a data folder of their own and on free ports, so
// the drill may stop, kill and restart them without touching the servers
// everyone else uses.
type services struct {
	root      string // repository root
	dataDir   string // absolute LOYALTY_DATA_DIR
	pgPort    int
	redisPort int
	log       io.Writer // the script's output
}

func (s *services) env() []string {
	return append(os.Environ(),
		"LOYALTY_DATA_DIR="+s.dataDir,
		"PG_PORT="+strconv.Itoa(s.pgPort),
		"REDIS_PORT="+strconv.Itoa(s.redisPort),
		"REDIS_APPENDONLY=yes",
		"SERVICES_TIMEOUT=60",
	)
}

// script runs scripts/services.sh with the drill's settings; its output
// goes to the services log, and into the error when it fails.
func (s *services) script(args ...string) error {
	cmd := exec.Command(filepath.Join(s.root, "scripts", "services.sh"), args...)
	cmd.Dir = s.root
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, s.log), io.MultiWriter(&out, s.log)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/services.sh %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

func (s *services) databaseURL() string {
	return fmt.Sprintf("postgres://loyalty@127.0.0.1:%d/loyalty?sslmode=disable", s.pgPort)
}

func (s *services) redisAddr() string { return fmt.Sprintf("127.0.0.1:%d", s.redisPort) }

func (s *services) redisURL() string { return "redis://" + s.redisAddr() + "/0" }

// pgData is the cluster folder services.sh made under the data folder.
func (s *services) pgData() (string, error) {
	dir := filepath.Join(s.dataDir, "pg", "data")
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		return "", fmt.Errorf("the drill's PostgreSQL cluster is not in %s (did services.sh fall back to /tmp?): %w", dir, err)
	}
	return dir, nil
}

// pgCtl runs pg_ctl on the drill's cluster, as the postgres user when the
// drill runs as root (PostgreSQL refuses to run as root).
func (s *services) pgCtl(args ...string) error {
	data, err := s.pgData()
	if err != nil {
		return err
	}
	version, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil {
		return err
	}
	pgCtl := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(version)), "bin", "pg_ctl")
	if _, err := os.Stat(pgCtl); err != nil {
		if pgCtl, err = exec.LookPath("pg_ctl"); err != nil {
			return fmt.Errorf("pg_ctl not found")
		}
	}
	argv := append([]string{pgCtl, "-D", data}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(s.log, "$ %s\n%s", strings.Join(argv, " "), out)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// stopPostgres stops the drill's PostgreSQL; mode "immediate" is a crash
// (no checkpoint, recovery from the WAL on the next start), "fast" a clean
// shutdown that still cuts every connection.
func (s *services) stopPostgres(mode string) error {
	return s.pgCtl("-m", mode, "-w", "-t", "60", "stop")
}

// stopRedis shuts the drill's Redis down. SHUTDOWN writes the append-only
// file out first, so a restart finds every acknowledged write; kill (SIGKILL)
// is a crash, which with appendfsync everysec may lose the last second.
func (s *services) stopRedis(kill bool) error {
	if kill {
		pidText, err := os.ReadFile(filepath.Join(s.dataDir, "redis", "redis.pid"))
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
		if err != nil {
			return err
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
	} else {
		cmd := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(s.redisPort), "shutdown")
		out, _ := cmd.CombinedOutput() // the connection drops as Redis exits
		fmt.Fprintf(s.log, "$ redis-cli shutdown\n%s", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.redisAddr(), 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redis on %s did not stop", s.redisAddr())
}

// freePort asks the kernel for a port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// appEnv is what every loyalty process of the drill runs with.
type appEnv struct {
	svc           *services
	binary        string
	shopifySecret string
	encryptionKey string
	concurrency   int
	logDir        string
}

func newAppEnv(svc *services, binary, logDir string, concurrency int) (*appEnv, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &appEnv{svc: svc, binary: binary, shopifySecret: "drill-shopify-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		encryptionKey: base64.StdEncoding.EncodeToString(key), concurrency: concurrency, logDir: logDir}, nil
}

func (a *appEnv) environ(addr string) []string {
	return append(os.Environ(),
		"APP_ENV=development",
		"DATABASE_URL="+a.svc.databaseURL(),
		"REDIS_URL="+a.svc.redisURL(),
		"HTTP_ADDR="+addr,
		"APP_URL=http://"+addr,
		"SHOPIFY_API_SECRET="+a.shopifySecret,
		"SHOPIFY_API_SECRET_PREVIOUS=",
		"ENCRYPTION_KEY="+a.encryptionKey,
		"WORKER_CONCURRENCY="+strconv.Itoa(a.concurrency),
		"INBOX_RELAY_INTERVAL=1s",
		"MAIL_TRANSPORT=log",
		// info: every delivery's fate is in the logs, for explaining a loss.
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
	)
}

// cli runs a loyalty command to completion and returns its output.
func (a *appEnv) cli(args ...string) (string, error) {
	cmd := exec.Command(a.binary, args...)
	cmd.Env = a.environ("127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("loyalty %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// proc is a running `loyalty serve` or `loyalty worker`; its output is
// appended to <logDir>/<name>.log.
type proc struct {
	name string
	mode string
	addr string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func (a *appEnv) start(name, mode, addr string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(a.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "==== %s: loyalty %s on %s\n", time.Now().Format(time.RFC3339Nano), mode, addr)
	cmd := exec.Command(a.binary, mode)
	cmd.Env = a.environ(addr)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, mode: mode, addr: addr, cmd: cmd, log: f, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if err := p.waitReady(60 * time.Second); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func (p *proc) waitReady(within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (see %s)", p.name, p.log.Name())
		default:
		}
		resp, err := client.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s was not ready on %s within %s (see %s)", p.name, p.addr, within, p.log.Name())
}

// kill is SIGKILL: no shutdown, no cleanup, tasks in flight abandoned.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	fmt.Fprintf(p.log, "==== %s: SIGKILLed by the drill\n", time.Now().Format(time.RFC3339Nano))
	p.log.Close()
}

// stop asks for a graceful shutdown and kills after a grace period.
func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	p.log.Close()
}

// exited reports whether the process ended on its own.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// build compiles the app and copies it into the drill's folder, so a
// rebuild of bin/loyalty by someone else mid-drill cannot change what the
// drill restarts.
func build(ctx context.Context, root, dataDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", "bin/loyalty", ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	src, err := os.ReadFile(filepath.Join(root, "bin", "loyalty"))
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dataDir, "loyalty")
	if err := os.WriteFile(dst+".tmp", src, 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(dst+".tmp", dst)
}

// repoRoot finds the folder holding the loyalty module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module loyalty")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run the drill inside the loyalty repository")
		}
		dir = parent
	}
}
