package bridge

// WithoutQuickAck turns the TCP_QUICKACK cure off, for the benchmark (in
// package bridge_test) that shows what it cures.
var WithoutQuickAck = withoutQuickAck
