// Package nsinit is the native sandbox's init: pid 1 of the sandbox's
// namespaces, started by backend/native as a re-execution of the moat
// binary. It reads one Config from a descriptor, builds the root (a tmpfs
// with read-only binds of the interpreter alone), enters the run's cgroup,
// brings the network up, says "ready" and waits for the Start (the
// program, its variables and files) on the same descriptor: a sandbox can
// be prepared ahead of its run (backend/native.Prepare). Then it writes the
// files, drops every capability, applies Landlock and seccomp, forks the program
// from its one locked thread, reaps every process, and reports over a
// status pipe (Message, one JSON object per line).
//
// # Starting early
//
// Go initializes every linked package before main, in dependency order
// and, among those ready, by import path. The moat binary links the
// Docker client, otel, net/http, cobra and html/template, whose package
// initialization (regular expressions compiled at init, mostly) costs
// each moat process milliseconds; the init is on the critical path of
// every run. So when the binary starts as [Arg], this package's init
// function runs the sandbox init and exits, before those packages are
// reached: it sorts ahead of them, and its own dependencies avoid the
// ones that come late (net, regexp and whatever waits on them). Keep it
// so: a new import here that depends on net or regexp silently costs
// every run the difference (see TestInitStartsEarly).
//
// The network of modes sinkhole and allow does need net: a run with one
// starts the init as [ArgNet] instead, and the binary's main hands it the
// network through backend/native.Init, once every package is initialized.
package nsinit
