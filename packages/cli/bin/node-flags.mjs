// The V8 flags the platform process runs with (docs/adr/0012-fleet-write-path.md, issue 20). A young generation of
// up to 64 MiB per semi-space (Node 20's default is 16): under ten thousand devices a message's objects live until
// its batch is committed (tens of milliseconds), and with small semi-spaces they were promoted to the old
// generation and died there, which grew the heap by ~20 MB/s between major collections (peak RSS ~1 GB). And at
// least 64 MiB: V8 shrinks an idle young generation, and when a fleet starts sending, growing it back is ~30,000
// page faults on the event loop in the first seconds (about 10 µs each on the VMs measured) — the first second of
// the fleet benchmark was its slowest. A flag set at run time (v8.setFlagsFromString) does not resize the young
// generation; it must be on the command line.
export const PLATFORM_NODE_FLAGS = ['--max-semi-space-size=64', '--min-semi-space-size=64'];
