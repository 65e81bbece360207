package fiberws

import (
	"errors"
	"net"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/msgbuf"
)

// read is the reader loop. Control frames (ping, pong, close) are handled
// inside NextReader. Data frames are handled inline (runInline) or, once
// reading has been handed off, queued for the worker; when the queue is
// full, reading pauses: back-pressure instead of memory growth. A handed-off
// reader that finds the worker idle gives it the message with reading and
// returns.
//
// It reports false when it stopped because reading changed goroutines (to a
// new reader while this one ran a handler inline: the caller becomes the
// worker; or back to the worker), and true when reading is over: the socket
// failed or the close handshake completed. The goroutine that ends reading
// releases the socket and closes readerDone.
func (s *Session) read() bool {
	sendOnly := s.route.route.mode == ModeSendOnly
	for {
		s.armIdle()
		mt, r, err := s.ws.NextReader()
		if err != nil {
			s.readFailed(err)
			s.stopReading()
			return true
		}
		s.msgSince.Store(s.route.srv.clock.Load())
		buf := msgbuf.Get()
		err = s.readMessage(buf, r)
		s.messageDone()
		if err != nil {
			msgbuf.Put(buf)
			if s.rejectMessage(err) {
				continue
			}
			s.readFailed(err)
			s.stopReading()
			return true
		}
		if !s.allowMessage() {
			msgbuf.Put(buf)
			continue
		}
		if sendOnly || s.state.Load() != stateOpen {
			msgbuf.Put(buf)
			continue
		}
		if hooks.MessageType(mt) == hooks.Text && !utf8.Valid(buf.B) {
			msgbuf.Put(buf)
			_ = s.closeWith(CloseInvalidPayload, "invalid UTF-8", hooks.ByServer, nil)
			continue
		}
		s.msgsIn.Add(1)
		s.bytesIn.Add(int64(len(buf.B)))
		for _, ro := range s.route.live {
			ro.Received(len(buf.B))
		}
		if s.asks != nil && s.asks.take(buf.B) {
			// An answer to an Ask: matched here, not queued behind the
			// handler that may be waiting for it.
			msgbuf.Put(buf)
			continue
		}
		if s.runner.Load() != runHandOff {
			handedOff := !s.runInline(hooks.Message{Type: hooks.MessageType(mt), Data: buf.B})
			msgbuf.Put(buf)
			if handedOff {
				return false
			}
			continue
		}
		if s.queued.Load() <= 1 && !s.slowInline.Load() && !s.resumePending.Load() {
			s.handBack(inbound{mt: hooks.MessageType(mt), buf: buf, resume: true})
			return false
		}
		if !s.enqueue(inbound{mt: hooks.MessageType(mt), buf: buf}) {
			msgbuf.Put(buf)
		}
	}
}

// enqueue hands a message to the worker, waiting while the queue is full
// (Config.QueueSize messages, or Config.QueueBytes bytes: a message always
// fits an empty queue): reading pauses and TCP pushes back on the client.
// It reports false when the connection closed first. While it waits, the
// pong timeout stands still (pauseReading): the client's pongs are behind
// the messages we have not read yet.
func (s *Session) enqueue(in inbound) bool {
	n := int64(len(in.buf.B))
	if s.hasQueueRoom(n) {
		select {
		case s.inbox <- in:
			s.queuedBytes.Add(n)
			s.queued.Add(1)
			return true
		default:
		}
	}
	s.pauseReading()
	defer s.resumeReading()
	if !s.waitQueueRoom(n) {
		return false
	}
	s.queuedBytes.Add(n)
	s.queued.Add(1)
	select {
	case s.inbox <- in:
		return true
	case <-s.ctx.Done():
		s.queuedBytes.Add(-n)
		s.queued.Add(-1)
		return false
	}
}

func (s *Session) hasQueueRoom(n int64) bool {
	q := s.queuedBytes.Load()
	return q == 0 || q+n <= s.route.srv.cfg.QueueBytes
}

// waitQueueRoom holds the reader until n more bytes fit Config.QueueBytes
// or the connection closes (false).
func (s *Session) waitQueueRoom(n int64) bool {
	for !s.hasQueueRoom(n) {
		select {
		case <-s.dequeued:
		case <-s.ctx.Done():
			return false
		}
	}
	return true
}

// stopReading winds the socket down once reading is over: the connection
// counts as closing (its context is cancelled) and TCP is dropped, even if
// a handler is still running.
func (s *Session) stopReading() {
	s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	s.release()
	if s.readerDone != nil {
		close(s.readerDone)
	}
}

// readFailed records why reading stopped. If the connection was already
// closing (this side sent a close frame), this is the end it waited for.
func (s *Session) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		s.markClosing(ce.Code, ce.Text, hooks.ByClient, nil)
	case errors.Is(err, websocket.ErrReadLimit):
		// The library already sent 1009, without a reason, to the client
		// (past the backstop, or on a Contrib route).
		s.markClosing(CloseMessageTooBig, "", hooks.ByServer, nil)
	case isProtocolError(err):
		// The library already sent 1002 with this reason to the client.
		s.markClosing(CloseProtocolError, strings.TrimPrefix(err.Error(), "websocket: "), hooks.ByServer, err)
	case errors.As(err, &ne) && ne.Timeout():
		if s.idleExpired() {
			return
		}
		s.markClosing(CloseAbnormalClosure, "", hooks.ByTimeout, nil)
	default:
		s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	}
}

// protocolErrors are what fasthttp/websocket's protocol errors say after
// "websocket: ": the library sends the client 1002 with that text and
// returns a plain error, so the text is all there is to tell them by.
var protocolErrors = []string{
	"RSV1 set", "RSV2 set", "RSV3 set", "len > 125 for control",
	"FIN not set on control", "data before FIN", "continuation after FIN",
	"bad opcode", "bad MASK", "bad close code", "invalid utf8 payload in close frame",
}

func isProtocolError(err error) bool {
	msg, ok := strings.CutPrefix(err.Error(), "websocket: ")
	return ok && slices.ContainsFunc(protocolErrors, func(p string) bool { return strings.Contains(msg, p) })
}
