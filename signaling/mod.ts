/**
 * The signaling server of this isolate, created on first use from the environment
 * (`MOOZ_*`, see config.ts). Routes reach it through `getHub()`.
 */
import { configFromEnv } from "./config.ts";
import { SignalingHub } from "./hub.ts";

let hub: Promise<SignalingHub> | null = null;
let kv: Deno.Kv | null = null;

export function getHub(): Promise<SignalingHub> {
  hub ??= (async () => {
    const config = configFromEnv();
    kv = await Deno.openKv(config.kv);
    const created = new SignalingHub({ config, kv });
    created.start();
    return created;
  })().catch((err) => {
    hub = null; // let the next request try again (e.g. remote KV briefly unreachable)
    throw new Error(
      `Opening the room store (MOOZ_KV=${Deno.env.get("MOOZ_KV") ?? "default"}) failed: ${err}`,
    );
  });
  return hub;
}

/** Stops this isolate's hub (tests); the next `getHub()` creates a new one. */
export async function stopHub(): Promise<void> {
  const current = hub;
  hub = null;
  if (current) await (await current).stop();
  kv?.close();
  kv = null;
}
