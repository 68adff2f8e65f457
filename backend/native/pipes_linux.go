package native

import "os"

// pipes are the run's descriptors; the child ends go to the init.
type pipes struct {
	cfgR, cfgW       *os.File
	tarInR, tarInW   *os.File
	statusR, statusW *os.File
	ctlR, ctlW       *os.File
	tarOutR, tarOutW *os.File
	stdinR, stdinW   *os.File
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
	diagR, diagW     *os.File // the init's own stderr
}

func newPipes(tarIn, tarOut bool) (*pipes, error) {
	p := &pipes{}
	pairs := []struct {
		r, w **os.File
		want bool
	}{
		{&p.cfgR, &p.cfgW, true}, {&p.tarInR, &p.tarInW, tarIn}, {&p.statusR, &p.statusW, true},
		{&p.ctlR, &p.ctlW, true}, {&p.tarOutR, &p.tarOutW, tarOut},
		{&p.stdinR, &p.stdinW, true}, {&p.stdoutR, &p.stdoutW, true}, {&p.stderrR, &p.stderrW, true}, {&p.diagR, &p.diagW, true},
	}
	for _, pr := range pairs {
		if !pr.want {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		*pr.r, *pr.w = r, w
	}
	return p, nil
}

// closeChildEnds closes, in the parent, the ends that now belong to the
// init, so that EOF arrives when the init and its namespace are gone.
func (p *pipes) closeChildEnds() {
	for _, f := range []*os.File{p.cfgR, p.tarInR, p.statusW, p.ctlR, p.tarOutW, p.stdinR, p.stdoutW, p.stderrW, p.diagW} {
		if f != nil {
			f.Close()
		}
	}
}

func (p *pipes) closeAll() {
	for _, f := range []*os.File{p.cfgR, p.cfgW, p.tarInR, p.tarInW, p.statusR, p.statusW, p.ctlR, p.ctlW,
		p.tarOutR, p.tarOutW, p.stdinR, p.stdinW, p.stdoutR, p.stdoutW, p.stderrR, p.stderrW, p.diagR, p.diagW} {
		if f != nil {
			f.Close()
		}
	}
}
