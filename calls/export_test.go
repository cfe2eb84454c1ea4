package calls

// ListSQL is listSQL for the plans the bench tests print.
var ListSQL = listSQL

// SetMaxCandidates changes maxCandidates until the returned func is called.
func SetMaxCandidates(n int64) (restore func()) {
	old := maxCandidates.Swap(n)
	return func() { maxCandidates.Store(old) }
}
