package registry

import "time"

// Rate is how many images a scan reads per second, and how long the rest
// should take at that rate; ok is false until there is something to go by
// (a second of work and an image read).
func (p Progress) Rate(elapsed time.Duration) (perSecond float64, eta time.Duration, ok bool) {
	if elapsed < time.Second || p.ImagesDone == 0 {
		return 0, 0, false
	}
	perSecond = float64(p.ImagesDone) / elapsed.Seconds()
	if left := p.Images - p.ImagesDone; left > 0 {
		eta = time.Duration(float64(left) / perSecond * float64(time.Second)).Round(time.Second)
	}
	return perSecond, eta, true
}

// bump tells the progress goroutine that counters changed.
func (s *scanner) bump() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *scanner) snapshot() Progress {
	return Progress{
		Repositories:     int(s.nRepos.Load()),
		RepositoriesDone: int(s.nReposDone.Load()),
		Images:           int(s.nImages.Load()),
		ImagesDone:       int(s.nImagesDone.Load()),
	}
}

// runProgress calls fn from a single goroutine as counters change
// (coalescing bursts) and returns a stop function that makes the final call
// once everything is counted.
func (s *scanner) runProgress(fn func(Progress)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-s.notify:
				fn(s.snapshot())
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		fn(s.snapshot())
	}
}
