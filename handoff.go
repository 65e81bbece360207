package fiberws

import (
	"runtime"
	"time"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/msgbuf"
)

// inbound is a received message waiting for the handler; buf returns to
// the pool once the handler is done with it. resume marks the message a
// reader hands back with reading itself (see read).
type inbound struct {
	mt     hooks.MessageType
	buf    *msgbuf.Buf
	resume bool
}

// inlineBudget is how long a handler may run on the reader goroutine before
// reading moves to a goroutine of its own (see serve): a handler is handed
// off after one to two budgets.
const inlineBudget = time.Millisecond

// Runner states of a connection (Session.runner).
const (
	runIdle        int32 = iota // the reader is reading; handlers run inline
	runBusy                     // the reader is running a handler inline
	runSwitching                // the budget timer is setting up the hand-off
	runHandOff                  // reading runs on its own goroutine; handlers run from the queue
	runHandingBack              // a reader is handing reading back (handBack)
	runBack                     // reading was handed back: the worker takes it up after the queue
)

// runInline runs one message on the reader goroutine under the inline
// budget: if the handler is still running after one to two budgets, the
// budget timer hands reading to a new goroutine (handOff). It reports false
// when that happened; the caller must then stop reading and become the
// worker.
func (s *Session) runInline(m hooks.Message) bool {
	// The sequence number first: checkBudget, seeing the runner busy,
	// must see this message's number.
	s.inlineSeq.Add(1)
	s.runner.Store(runBusy)
	return s.runBudgeted(m)
}

// runBudgeted is runInline once the runner is busy.
func (s *Session) runBudgeted(m hooks.Message) bool {
	if !s.budgetArmed.Load() {
		s.armBudget()
	}
	if s.state.Load() == stateOpen {
		s.msg = m
		s.process(s.handler, &s.msg)
		s.msg = hooks.Message{}
	}
	if s.runner.CompareAndSwap(runBusy, runIdle) {
		return true
	}
	// The timer is handing off; wait until the inbox it makes is there.
	for s.runner.Load() != runHandOff {
		runtime.Gosched()
	}
	s.slowInline.Store(false)
	s.queued.Add(-1) // this handler, counted by handOff, is done
	return false
}

// armBudget starts the budget timer for the message running now, unless it
// is already running. The timer is not stopped after each message: it
// fires once per budget while messages keep coming and lapses when the
// reader is idle, so quick handlers cost an atomic load, not a timer reset.
func (s *Session) armBudget() {
	if !s.budgetArmed.CompareAndSwap(false, true) {
		return
	}
	s.budgetSeq.Store(s.inlineSeq.Load())
	if s.budget == nil {
		// Made idle and armed below: the timer must not fire before the
		// field it re-arms through is set.
		s.budget = time.AfterFunc(time.Hour, s.checkBudget)
	}
	s.budget.Reset(inlineBudget)
}

// checkBudget runs on the budget timer. If nobody has read since the timer
// was armed (the same message runs inline, or the worker has still not
// taken reading back), reading is handed off; if another message runs, the
// timer re-arms for it; if the reader is idle, the timer lapses.
func (s *Session) checkBudget() {
	if r := s.runner.Load(); r == runBusy || r == runBack {
		seq := s.inlineSeq.Load()
		if seq == s.budgetSeq.Load() && s.handOff(r) {
			return
		}
		s.budgetSeq.Store(seq)
		s.budget.Reset(inlineBudget)
		return
	}
	s.budgetArmed.Store(false)
	// A message may have started as the timer stood down, having seen it
	// still armed.
	if r := s.runner.Load(); r == runBusy || r == runBack {
		s.armBudget()
	}
}

// handOff moves reading to a goroutine of its own while nobody reads: a
// handler runs inline past its budget (from runBusy), or the worker has not
// yet taken back the reading handed to it (from runBack). It reports false
// when the runner moved on first. The queue it makes is kept for later
// hand-offs.
func (s *Session) handOff(from int32) bool {
	if !s.runner.CompareAndSwap(from, runSwitching) {
		return false
	}
	// The timer has fired and is not re-armed: say so before the new
	// reader exists, or a hand-back from it would find the timer "armed"
	// and leave the worker's next inline run without one.
	s.budgetArmed.Store(false)
	if s.inbox == nil {
		s.inbox = make(chan inbound, s.route.srv.cfg.QueueSize)
		s.dequeued = make(chan struct{}, 1)
		s.readerDone = make(chan struct{})
	}
	if from == runBusy {
		// The handler still running counts as queued, and as known to be
		// slow: the new reader must not hand reading back behind it.
		s.queued.Add(1)
		s.slowInline.Store(true)
	}
	s.runner.Store(runHandOff)
	go s.read()
	return true
}

// handBack ends a handed-off reader whose worker has (almost) caught up: at
// most one message is queued or running, and it is not a handler known to be
// slow. The message just read goes to the worker with reading itself; the
// worker runs it inline and reads on. Until the worker takes reading up,
// nobody reads, so the budget timer runs: if the worker is held up past it,
// reading is handed off again; that new reader does not hand back until the
// worker has seen this message (resumePending), so the worker cannot take
// up reading on the wrong hand-back.
func (s *Session) handBack(in inbound) {
	s.queued.Add(1)
	s.resumePending.Store(true)
	// The timer leaves a hand-back alone until the message is in the
	// inbox: a reader it started must queue behind it.
	s.runner.Store(runHandingBack)
	s.inbox <- in
	s.inlineSeq.Add(1)
	s.runner.Store(runBack)
	s.armBudget()
}

// resume is the worker taking up reading handed back with in. It reports
// false when the budget timer handed reading off again first; the message
// then runs as a queued one.
func (s *Session) resume(in inbound) bool {
	s.inlineSeq.Add(1) // before the runner: see runInline
	for s.runner.Load() == runHandingBack {
		runtime.Gosched()
	}
	inline := s.runner.CompareAndSwap(runBack, runBusy)
	if inline {
		s.resumePending.Store(false)
		inline = s.runBudgeted(hooks.Message{Type: in.mt, Data: in.buf.B})
	} else {
		for s.runner.Load() != runHandOff {
			runtime.Gosched()
		}
		// Only now may the new reader hand back: before, its hand-back
		// would be taken for this one's, and this loop would wait for a
		// hand-off that never comes.
		s.resumePending.Store(false)
		if s.state.Load() == stateOpen {
			s.msg = hooks.Message{Type: in.mt, Data: in.buf.B}
			s.process(s.handler, &s.msg)
			s.msg = hooks.Message{}
		}
	}
	msgbuf.Put(in.buf)
	s.queued.Add(-1)
	return inline
}

// runSendOnly is the worker of a send-only route, a goroutine of its own
// (finish waits for it): the one run, then the close.
func (s *Session) runSendOnly() {
	defer close(s.workerDone)
	if s.state.Load() == stateOpen {
		// Whatever the run's outcome (sent, dropped by an interceptor,
		// kept open by a catcher), a send-only connection ends with it;
		// if a catcher already closed it, this does nothing.
		s.process(s.handler, &hooks.Message{Connect: true})
		_ = s.closeWith(CloseNormalClosure, "", hooks.ByServer, nil)
	}
}

// work is the handler loop of a connection whose reading runs on another
// goroutine: queued messages in arrival order. It reports true when the
// reader handed reading back (the caller reads again) and false when
// reading is over.
func (s *Session) work() bool {
	for {
		select {
		case in := <-s.inbox:
			if in.resume {
				if s.resume(in) {
					return true
				}
				continue // a new reader took over
			}
			n := int64(len(in.buf.B))
			if s.state.Load() == stateOpen {
				s.msg = hooks.Message{Type: in.mt, Data: in.buf.B}
				s.process(s.handler, &s.msg)
				s.msg = hooks.Message{}
			}
			msgbuf.Put(in.buf)
			s.queuedBytes.Add(-n)
			s.queued.Add(-1)
			select { // wake a reader waiting for room
			case s.dequeued <- struct{}{}:
			default:
			}
		case <-s.readerDone:
			for {
				select {
				case in := <-s.inbox:
					msgbuf.Put(in.buf)
				default:
					return false
				}
			}
		}
	}
}
