package ring

import "testing"

// The ring behaves as a slice-backed deque under a long mixed sequence
// that wraps and grows the buffer many times.
func TestRingMatchesSlice(t *testing.T) {
	var r Ring[int]
	var model []int
	next := 0
	for step := range 10_000 {
		switch {
		case step%7 == 3 && len(model) > 0:
			if got := r.Pop(); got != model[0] {
				t.Fatalf("step %d: Pop = %d, want %d", step, got, model[0])
			}
			model = model[1:]
		case step%11 == 5:
			r.PushFront(next)
			model = append([]int{next}, model...)
			next++
		case step%3 == 0 && len(model) > 1:
			r.Pop()
			model = model[1:]
		default:
			r.Push(next)
			model = append(model, next)
			next++
		}
		if r.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, want %d", step, r.Len(), len(model))
		}
		if len(model) > 0 && (r.Front() != model[0] || r.At(len(model)-1) != model[len(model)-1]) {
			t.Fatalf("step %d: front/back differ from the model", step)
		}
	}
}
