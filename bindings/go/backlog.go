package quic

/*
#include <quic.h>
*/
import "C"

import "sync"

// A Listener's Sessions share its goroutine, so none may block it: each
// Session's events go into a backlog that a goroutine of its own hands to
// the reader. When a backlog grows past highWater, the streams whose data
// it holds are paused (quic_conn_stream_pause_reading): their peer then
// stops at its flow-control window, so the backlog stays bounded, and
// DATAGRAM frames, which nothing bounds, are dropped meanwhile. Once the
// reader has taken it down to lowWater, the streams resume.
const (
	highWater = 1024
	lowWater  = 256
)

type backlog struct {
	mu      sync.Mutex
	cond    *sync.Cond
	events  []Event
	end     bool  // deliver what is left, then finish the Session
	result  error // the Session's end, with end
	paused  map[uint64]bool
	dropped uint64 // DATAGRAM frames dropped while the backlog was full
}

func newBacklog() *backlog {
	b := &backlog{paused: map[uint64]bool{}}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// add appends a round's events (under the Listener's lock) and pauses
// the streams they carry if the backlog is full.
func (l *Listener) add(s *Session, handle uint64, evs []Event, end bool) {
	b := s.backlog
	b.mu.Lock()
	full := len(b.events) >= highWater
	var pause []uint64
	for _, ev := range evs {
		switch e := ev.(type) {
		case DatagramFrameReceived:
			if full {
				b.dropped++
				continue
			}
		case StreamDataReceived:
			if full && !e.EndStream && !b.paused[e.StreamID] {
				b.paused[e.StreamID] = true
				pause = append(pause, e.StreamID)
			}
		}
		b.events = append(b.events, ev)
	}
	if end {
		b.end = true
	}
	b.cond.Signal()
	b.mu.Unlock()
	if len(pause) > 0 && l.ep != nil {
		var c *C.quic_conn
		if C.quic_endpoint_conn(l.ep, C.uint64_t(handle), &c) == C.QUIC_RESULT_OK {
			for _, id := range pause {
				C.quic_conn_stream_pause_reading(c, C.uint64_t(id))
			}
		}
	}
}

// pump hands the backlog to the Session's reader, resuming paused
// streams once it has drained, and finishes the Session at its end.
func (s *Session) pump(resume func(ids []uint64)) {
	b := s.backlog
	for {
		b.mu.Lock()
		for len(b.events) == 0 && !b.end {
			b.cond.Wait()
		}
		if len(b.events) == 0 {
			result := b.result
			b.mu.Unlock()
			s.finish(result)
			return
		}
		ev := b.events[0]
		b.events[0] = nil
		b.events = b.events[1:]
		var ids []uint64
		if len(b.events) <= lowWater && len(b.paused) > 0 {
			for id := range b.paused {
				ids = append(ids, id)
			}
			b.paused = map[uint64]bool{}
		}
		b.mu.Unlock()
		if len(ids) > 0 {
			resume(ids)
		}
		select {
		case s.events <- ev:
		case <-s.closing:
		}
	}
}

// ending marks the end of the Session's events (it finishes once they are
// delivered) with the result to report if no event set one.
func (b *backlog) ending(result error) {
	b.mu.Lock()
	b.end = true
	b.result = result
	b.cond.Signal()
	b.mu.Unlock()
}
