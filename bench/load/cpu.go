package main

import "time"

// cpuSample is the processor time used so far by this process, by the server process
// (Keyward, or the bare server or proxy) and by each named group of processes (-nginx:
// nginx, Keyward and the upstream; -proxy: the upstream behind both proxies), read at one
// moment.
type cpuSample struct {
	ok       bool
	at       time.Time
	self     time.Duration
	server   time.Duration
	serverOK bool
	busy     time.Duration
	busyOK   bool
	groups   []groupSample
}

// procGroup is a set of processes whose CPU time is reported together under one name, as an
// nginx master and its workers, or the one upstream process behind the proxies.
type procGroup struct {
	name string
	pids []int
}

// groupSample is a group's CPU time so far; ok is false when a process could not be read.
type groupSample struct {
	name string
	cpu  time.Duration
	ok   bool
}

// cpuUse is the processor time spent during a measured stretch, in cores: 1.0 is one core
// busy all the time. It shows how the shared cores were split between the load generator
// and the server.
type cpuUse struct {
	WallSeconds float64 `json:"wall_seconds"`
	// LoadProcess is what this process used: the load generator, and also the bare server
	// when it runs in this process (-bare-in-process).
	LoadProcess float64 `json:"load_process_cores"`
	// Server is what the server process used: Keyward, or the bare server (with -proxy, the
	// bare proxy) in its own process; absent with -url and -bare-in-process, and with -nginx,
	// whose processes are all in Processes.
	Server *float64 `json:"server_cores,omitempty"`
	// Processes is what each named group of processes used (-nginx: nginx, keyward and the
	// upstream; -proxy: the upstream), in the order they were named.
	Processes []groupUse `json:"processes,omitempty"`
	// Others is what every other process on the machine used: the noise of a shared
	// machine. With -url it includes the server.
	Others *float64 `json:"other_processes_cores,omitempty"`
}

// groupUse is one named group's use, in cores.
type groupUse struct {
	Name  string  `json:"name"`
	Cores float64 `json:"cores"`
}

// cpuProbe returns a function that samples the CPU time of this process, of process pid
// when it is not 0, and of each group. It returns nil where CPU times cannot be read.
func cpuProbe(pid int, groups ...procGroup) func() cpuSample {
	if _, ok := selfCPU(); !ok {
		return nil
	}
	return func() cpuSample {
		s := cpuSample{at: time.Now()}
		s.self, s.ok = selfCPU()
		s.busy, s.busyOK = machineBusy()
		if pid != 0 {
			s.server, s.serverOK = processCPU(pid)
		}
		for _, g := range groups {
			gs := groupSample{name: g.name, ok: len(g.pids) > 0}
			for _, p := range g.pids {
				t, ok := processCPU(p)
				gs.cpu += t
				gs.ok = gs.ok && ok
			}
			s.groups = append(s.groups, gs)
		}
		return s
	}
}

// since is the use between an earlier sample and s.
func (s cpuSample) since(before cpuSample) *cpuUse {
	wall := s.at.Sub(before.at).Seconds()
	if !s.ok || wall <= 0 {
		return nil
	}
	u := &cpuUse{WallSeconds: wall, LoadProcess: (s.self - before.self).Seconds() / wall}
	if s.serverOK && before.serverOK {
		k := (s.server - before.server).Seconds() / wall
		u.Server = &k
	}
	for i, g := range s.groups {
		if i < len(before.groups) && g.ok && before.groups[i].ok {
			u.Processes = append(u.Processes, groupUse{Name: g.name, Cores: (g.cpu - before.groups[i].cpu).Seconds() / wall})
		}
	}
	if s.busyOK && before.busyOK {
		o := (s.busy-before.busy).Seconds()/wall - u.LoadProcess
		if u.Server != nil {
			o -= *u.Server
		}
		for _, p := range u.Processes {
			o -= p.Cores
		}
		o = max(o, 0) // the counters tick at different moments
		u.Others = &o
	}
	return u
}
