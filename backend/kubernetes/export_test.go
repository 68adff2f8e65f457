package kubernetes

// SetSeccompProfile has the Pods name profile instead of moat's, until
// the returned function is called.
func SetSeccompProfile(profile string) (restore func()) {
	seccompOverride = profile
	return func() { seccompOverride = "" }
}
