/**
 * Test helpers shared by the bus's tests (bus_test.ts, bus_local_test.ts): buses on real Deno KV
 * that record what they receive, and the small waits those tests need.
 *
 * @example Two buses on one in-memory KV, then a signal between them
 * ```ts
 * using kv = await memoryKv();
 * await using a = busNode(kv, "a", { local: true });
 * await using b = busNode(kv, "b", { local: true });
 * await linked(a, b);
 * a.bus.send("b", message, sender());
 * ```
 */
import { Bus, type BusMessage, type BusSender } from "./bus.ts";
import { waitFor } from "./testing.ts";

/** A started (unless `start: false`) bus of `isolate`, and every message it received. */
export interface BusNode extends AsyncDisposable {
  isolate: string;
  bus: Bus;
  got: BusMessage[];
}

/** Options of `busNode`: `local` says whether it also uses the channel between isolates. */
export interface BusNodeOptions {
  local: boolean;
  start?: boolean;
  maxQueuedBytes?: number;
  /** The inbox's fallback poll; 50 ms in tests. */
  pollMs?: number;
}

/** A bus of `isolate` on `kv` that records what it receives; disposing it stops it. */
export function busNode(kv: Deno.Kv, isolate: string, opts: BusNodeOptions): BusNode {
  const got: BusMessage[] = [];
  const bus = new Bus({
    kv,
    isolate,
    pollMs: opts.pollMs ?? 50,
    onMessage: (m) => got.push(m),
    local: opts.local,
    maxQueuedBytes: opts.maxQueuedBytes,
  });
  if (opts.start ?? true) bus.start();
  return { isolate, bus, got, [Symbol.asyncDispose]: () => bus.stop() };
}

/** Waits until every node's bus reaches every other over the channel. */
export async function linked(...nodes: BusNode[]): Promise<void> {
  await waitFor(
    "the buses to find each other on the channel",
    () => nodes.every((n) => nodes.every((o) => o === n || n.bus.localPeers.includes(o.isolate))),
  );
}

/** A fresh in-memory KV, closed when disposed. */
export async function memoryKv(): Promise<Deno.Kv & Disposable> {
  const kv = await Deno.openKv(":memory:");
  return Object.assign(kv, { [Symbol.dispose]: () => kv.close() });
}

/** A sender that records the messages the bus reports it could not deliver. */
export function sender(): BusSender & { lost: BusMessage[] } {
  const lost: BusMessage[] = [];
  return { lost, failed: (m) => lost.push(m) };
}

/** A turn of the event loop: the bus writes what was sent in one turn together. */
export const nextTurn = (): Promise<unknown> => new Promise((r) => setTimeout(r, 0));
