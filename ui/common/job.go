package common

import tea "charm.land/bubbletea/v2"

// ProgressMsg carries one progress report of a running job and the
// command that waits for its next message.
type ProgressMsg struct {
	Msg  tea.Msg
	Next tea.Cmd
}

// RunJob runs work in its own goroutine and returns the command that
// delivers the work's progress reports, then its result. A report the
// screen has not caught up with is replaced by the next one, so the screen
// always gets the newest; the result is always delivered. work must call
// progress from one goroutine at a time.
func RunJob(work func(progress func(tea.Msg)) tea.Msg) tea.Cmd {
	return func() tea.Msg {
		progress := make(chan tea.Msg, 1)
		done := make(chan tea.Msg, 1)
		go func() {
			done <- work(func(m tea.Msg) {
				for {
					select {
					case progress <- m:
						return
					default:
					}
					select { // drop the stale report, if the screen has not taken it meanwhile
					case <-progress:
					default:
					}
				}
			})
		}()
		return waitJob(progress, done)()
	}
}

func waitJob(progress, done chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		select {
		case m := <-done:
			return m
		case m := <-progress:
			return ProgressMsg{Msg: m, Next: waitJob(progress, done)}
		}
	}
}
