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
