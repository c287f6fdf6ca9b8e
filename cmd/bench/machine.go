package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where the numbers were measured.
type machine struct {
	cpu, cores, ram, os, goVersion, postgres, redis, date, load string
}

func (m machine) lines() [][2]string {
	return [][2]string{{"CPU", m.cpu}, {"Cores", m.cores}, {"RAM", m.ram}, {"OS", m.os}, {"Go", m.goVersion},
		{"PostgreSQL", m.postgres}, {"Redis", m.redis}, {"Date", m.date},
		{"Load average at start (1, 5, 15 min; other work on the machine competes with the run)", m.load}}
}

// procField is the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func describeMachine(ctx context.Context, s *stack) machine {
	m := machine{cpu: procField("/proc/cpuinfo", "model name"), cores: strconv.Itoa(runtime.NumCPU()),
		goVersion: runtime.Version(), date: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	if m.cpu == "" {
		m.cpu = runtime.GOARCH
	}
	if kb, err := strconv.ParseFloat(strings.Fields(procField("/proc/meminfo", "MemTotal") + " 0")[0], 64); err == nil && kb > 0 {
		m.ram = fmt.Sprintf("%.1f GiB", kb/1024/1024)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.load = strings.Join(f[:3], ", ")
		}
	}
	m.os = runtime.GOOS
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.os = strings.Trim(v, `"`)
			}
		}
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m.os += ", kernel " + strings.TrimSpace(string(out))
	}
	if err := s.pool.QueryRow(ctx, `SHOW server_version`).Scan(&m.postgres); err != nil {
		m.postgres = "unknown: " + err.Error()
	}
	var shared, syncCommit string
	if s.pool.QueryRow(ctx, `SHOW shared_buffers`).Scan(&shared) == nil && s.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&syncCommit) == nil {
		m.postgres += fmt.Sprintf(" (shared_buffers %s, synchronous_commit %s)", shared, syncCommit)
	}
	m.redis = "unknown"
	if info, err := s.redis.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				m.redis = v
			}
		}
	}
	if info, err := s.redis.Info(ctx, "persistence").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "aof_enabled:"); ok {
				m.redis += " (aof_enabled " + v + ")"
			}
		}
	}
	return m
}
