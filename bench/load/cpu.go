package main

import "time"

// cpuSample is the processor time used so far by this process, by the server process
// (Keyward, or the bare server or proxy) and, with -proxy, by the upstream behind it, read
// at one moment.
type cpuSample struct {
	ok         bool
	at         time.Time
	self       time.Duration
	server     time.Duration
	serverOK   bool
	upstream   time.Duration
	upstreamOK bool
	busy       time.Duration
	busyOK     bool
}

// cpuUse is the processor time spent during a measured stretch, in cores: 1.0 is one core
// busy all the time. It shows how the shared cores were split between the load generator
// and the server.
type cpuUse struct {
	WallSeconds float64 `json:"wall_seconds"`
	// LoadProcess is what this process used: the load generator, and also the bare server
	// when it runs in this process (-bare-in-process).
	LoadProcess float64 `json:"load_process_cores"`
	// Server is what the server process used: Keyward, or the bare server in its own
	// process; absent with -url and -bare-in-process.
	Server *float64 `json:"server_cores,omitempty"`
	// Upstream is what the upstream behind the proxies used, with -proxy.
	Upstream *float64 `json:"upstream_cores,omitempty"`
	// Others is what every other process on the machine used: the noise of a shared
	// machine. With -url it includes the server.
	Others *float64 `json:"other_processes_cores,omitempty"`
}

// cpuProbe returns a function that samples the CPU time of this process and of the
// processes server and upstream that are not 0. It returns nil where CPU times cannot be
// read.
func cpuProbe(server, upstream int) func() cpuSample {
	if _, ok := selfCPU(); !ok {
		return nil
	}
	return func() cpuSample {
		s := cpuSample{at: time.Now()}
		s.self, s.ok = selfCPU()
		s.busy, s.busyOK = machineBusy()
		if server != 0 {
			s.server, s.serverOK = processCPU(server)
		}
		if upstream != 0 {
			s.upstream, s.upstreamOK = processCPU(upstream)
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
	if s.upstreamOK && before.upstreamOK {
		k := (s.upstream - before.upstream).Seconds() / wall
		u.Upstream = &k
	}
	if s.busyOK && before.busyOK {
		o := (s.busy-before.busy).Seconds()/wall - u.LoadProcess
		for _, v := range []*float64{u.Server, u.Upstream} {
			if v != nil {
				o -= *v
			}
		}
		o = max(o, 0) // the counters tick at different moments
		u.Others = &o
	}
	return u
}
