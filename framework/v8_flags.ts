/**
 * V8 flags for the production server: `deno task start` passes them to `deno serve`, and the
 * signaling bench (bench/signaling_server.ts) starts its servers with the same ones, so it measures
 * what production runs.
 *
 * Both trade a little GC work for memory. On the signaling bench (2,000 sockets in 500 rooms, one
 * isolate) server RSS per connection went from ~56 to ~43 KiB with the first and to ~37 KiB with
 * both; joins/s, relay throughput and the page bench's requests/s did not change measurably (runs
 * vary by about ±5%). Smaller young generations cost more: 2 MB semi-spaces saved a few KiB more
 * per connection but took ~15% of the page bench's requests/s.
 *
 * - `--max-semi-space-size=8` (MB): V8 grows each isolate's young generation under allocation
 *   pressure; after the bench's burst of joins it held 53 MB by default, 16 MB with this flag. A
 *   fixed cost per isolate, but at 2,000 sockets it came to ~20 KiB per connection.
 * - `--heap-growing-percent=100`: the old generation may grow to 2 × what was live after the last
 *   full GC before the next one, instead of up to 4 × by V8's default heuristic. Objects that
 *   outlive a couple of scavenges (a join waiting on KV) end up there as garbage.
 * - `--optimize-for-size`: V8 favours a small heap over speed (fewer reserved pages, earlier
 *   compaction). On 3 December, after the bench's 2,000 joins the heap held 14 MB of live objects
 *   in 58 MB of pages without it, 35 MB with it: RSS per connection 44.6 → 36.7 KiB with one
 *   isolate, 76 → 49 KiB with two. It cost ~9% of joins/s and ~10% more CPU per relayed signal
 *   (still over 10× below the predecessor's); memory was the one row behind the predecessor.
 */
export const SERVE_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=8",
  "--heap-growing-percent=100",
  "--optimize-for-size",
];

/** The flags as one `deno` command-line argument. */
export const serveV8FlagsArg = (): string => `--v8-flags=${SERVE_V8_FLAGS.join(",")}`;
