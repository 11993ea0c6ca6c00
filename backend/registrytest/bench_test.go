package registrytest

import (
	"testing"
)

// benchPopulation is what other packages' benchmarks seed: 2,000 tags over
// 20 repositories, tiny layers.
var benchPopulation = Population{Repositories: 20, TagsPerRepository: 100, Seed: 1, Now: testNow, Scale: 1, MultiPlatform: true}

func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r, err := Start(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan2000Tags(b *testing.B) {
	b.ReportAllocs()
	p, err := benchPopulation.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := buildPopulation(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeed2000Tags pushes 2,000 tags over 20 repositories into a fresh
// in-memory registry per iteration (starting it is not timed).
func BenchmarkSeed2000Tags(b *testing.B) {
	images := benchFill(b, func(r *Registry) (*Seeded, error) { return Seed(b.Context(), r.Host(), benchPopulation) })
	b.ReportMetric(float64(images), "images/op")
}

// BenchmarkPopulate2000Tags writes the same population straight into
// storage (starting the registry is not timed).
func BenchmarkPopulate2000Tags(b *testing.B) {
	benchFill(b, func(r *Registry) (*Seeded, error) { return r.Populate(b.Context(), benchPopulation) })
}

// benchFill times fill on a fresh in-memory registry per iteration,
// starting and closing it untimed, and returns the images of the last fill.
func benchFill(b *testing.B, fill func(*Registry) (*Seeded, error)) int {
	b.ReportAllocs()
	var images int
	for b.Loop() {
		b.StopTimer()
		r, err := Start(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := fill(r)
		if err != nil {
			b.Fatal(err)
		}
		images = len(s.Images)
		b.StopTimer()
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	return images
}

// BenchmarkGarbageCollect2000Tags times mark and sweep over the 2,000-tag
// population on the in-memory driver.
func BenchmarkGarbageCollect2000Tags(b *testing.B) {
	b.ReportAllocs()
	r := Serve(b)
	if _, err := r.Populate(b.Context(), benchPopulation); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := r.GarbageCollect(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
