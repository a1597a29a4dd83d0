// Package outbox is the bridge's store-and-forward queue: a persistent,
// bounded, ordered on-disk queue of outgoing MQTT messages.
//
// The bridge appends every QoS ≥ 1 publish before handing it to the MQTT
// client and acknowledges it when the broker's PUBACK (QoS 1) or PUBCOMP
// (QoS 2) arrives. Messages appended while the link is down — including
// before the first connect — wait here and come out again, in order, after a
// (re)connect. The queue survives a process restart and a kill -9 at any
// moment, and, with SyncAlways, a power loss.
//
// # On disk
//
// A state directory holds segment files (seg-<id>.wal), each a 20-byte
// header followed by length-prefixed records protected by CRC-32C: messages,
// acknowledgements and drops. Segments with nothing pending are deleted;
// before that, a checkpoint file (replaced atomically by rename) records
// which sequence numbers are still pending, so acknowledgement records can
// go with the segments that held them. Every write is one write(2) done
// before the call returns; fsync follows the SyncPolicy.
//
// Open recovers: it truncates a torn tail (a record half written when the
// process or the machine died), skips acknowledged messages and restores
// order and sequence numbers. Damage in the middle of a segment keeps every
// record before it, moves the rest of that segment aside into a .corrupt
// file and is reported as a *CorruptError by Outbox.RecoveryErrors; Open does
// not fail for it unless WithStrictRecovery is given.
//
// # Guarantees
//
// Under every policy, a kill -9 (or panic, or OOM kill) at any moment loses
// no message whose Append returned and brings back no message whose Ack
// returned. Power loss:
//
//   - SyncAlways: nothing whose Append or Ack returned is lost or undone;
//     each call waits for an fsync, shared by concurrent callers.
//   - SyncInterval(d): at most about the last d of appends and acks is lost
//     (lost acks mean messages sent again, never lost ones).
//   - SyncNever: whatever the kernel had not yet written back is lost, and
//     sequence numbers of lost messages may be handed out again.
//
// Bounds: WithMaxCount and WithMaxBytes cap what is pending; disk use stays
// under about twice WithMaxBytes plus a segment, even when an old message is
// never acknowledged; memory holds an index of about 40 bytes per pending
// message, and Next reads the records back from the files.
//
// # Delivery
//
// Next hands out unacknowledged messages in sequence order from a cursor so
// the caller can keep a window in flight; Ack takes them out of the queue in
// any order; Rewind moves the cursor back to the oldest unacknowledged
// message so that everything not yet acknowledged is sent again after a
// reconnect. Delivery is at least once: a message acknowledged just before a
// crash, or in flight during a reconnect, may be sent twice.
//
// Not every queued message still matters when the link returns. A message
// marked Latest is replaced by the next Latest message on its topic while
// it is undelivered (a state: only the newest value is worth replaying), and
// a message with a MaxAge is dropped by Next once it is older than that (an
// event that would do harm late). Both are recorded in the log, so they
// hold across restarts, and counted (Stats.Superseded, Stats.Expired).
//
// # What it must not do
//
// The package is safe for concurrent use from any goroutine and blocks on
// disk I/O, so it must not be called from the scheduler's loop thread (use
// loop.Offload, or call it from the bridge's own goroutines); it imports
// nothing of edgeagent's. One directory belongs to one Outbox at a time: Open
// takes an exclusive lock on it.
package outbox
