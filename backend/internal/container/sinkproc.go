package container

import "io"

// SinkHelperArg, as the first argument, runs moat as the helper that
// serves a container's sinkhole from outside moat's process. Its second
// argument says where:
//
//   - a pid: the network namespace of that process, entered on one thread
//     as root moat does (startSink), from the user namespace that owns it
//     (rootless podman's, entered by `podman unshare`): moat without root
//     cannot enter that network namespace from the host's user namespace,
//     and Go cannot enter a user namespace from a process with threads.
//     The helper holds CAP_SYS_ADMIN and CAP_NET_ADMIN in that user
//     namespace.
//   - SinkHelperHere: the network namespace the helper runs in, as pid 1 of
//     a container the engine started on the run's network namespace with
//     CAP_NET_ADMIN (startSinkHere; docker without root).
//
// Either way it talks to moat on its stdin and stdout: it reads a
// sinkRequest, writes a sinkReady, and, when its stdin ends, stops the
// sink and writes a sinkDone. What it writes is untrusted to moat (the
// program shares the namespace the helper serves): bounded, and only the
// sink's own kind of event is kept.
const SinkHelperArg = "moat-container-sink"

// SinkHelperHere is SinkHelperArg's second argument for a helper that
// serves the network namespace it runs in.
const SinkHelperHere = "here"

// SinkProc is a running sink helper (SinkHelperArg) as its backend
// started it: its streams, and how to end it.
type SinkProc struct {
	// Stdin is the helper's stdin; closing it asks the helper to stop
	// the sink and send its events.
	Stdin io.WriteCloser
	// Stdout carries the helper's messages; they are untrusted.
	Stdout io.Reader
	// Stderr, if set, returns what the helper wrote on its stderr,
	// bounded: the reason it failed.
	Stderr func() string
	// End ends the helper and waits until it is gone (its container
	// removed): at once if kill, else once it ends by itself after its
	// last message. Called once, whatever happened.
	End func(kill bool)
}
