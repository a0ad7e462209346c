/**
 * The one `SignalingHub` of this isolate, created on first use from the environment (`MOOZ_*`,
 * see config.ts), and the one piece of module-global state of the signaling server: a route
 * handler has no other place to keep it. Routes reach it through `getHub()`.
 */
import { configFromEnv } from "./config.ts";
import { SignalingHub } from "./hub.ts";

let hub: Promise<SignalingHub> | null = null;
let kv: Deno.Kv | null = null;

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * The hub's timers and KV watch would keep the process alive after `deno serve` was asked to
 * stop; on a stop signal, close sockets and release them so the process can exit.
 */
function onStopSignal(): void {
  void stopHub();
}

/**
 * This isolate's hub, started on the first call. A failure to open the room store rejects this
 * call only: the next one tries again (a remote KV may be briefly unreachable).
 *
 * @example
 * ```ts
 * export const handler = { GET: async (req, ctx) => (await getHub()).handleUpgrade(req, ctx.params.room) };
 * ```
 */
export function getHub(): Promise<SignalingHub> {
  hub ??= (async () => {
    const config = configFromEnv();
    kv = await Deno.openKv(config.kv);
    const created = new SignalingHub({ config, kv });
    created.start();
    for (const signal of SIGNALS) {
      try {
        Deno.addSignalListener(signal, onStopSignal);
      } catch {
        // Signals are not available everywhere (Windows has no SIGTERM, Deploy none at all).
      }
    }
    return created;
  })().catch((err) => {
    hub = null; // let the next request try again (e.g. remote KV briefly unreachable)
    throw new Error(
      `Opening the room store (MOOZ_KV=${Deno.env.get("MOOZ_KV") ?? "default"}) failed: ${err}`,
    );
  });
  return hub;
}

/** Stops this isolate's hub (tests, shutdown); the next `getHub()` creates a new one. */
export async function stopHub(): Promise<void> {
  const current = hub;
  hub = null;
  for (const signal of SIGNALS) {
    try {
      Deno.removeSignalListener(signal, onStopSignal);
    } catch {
      // Never added.
    }
  }
  if (current) await (await current).stop();
  kv?.close();
  kv = null;
}
