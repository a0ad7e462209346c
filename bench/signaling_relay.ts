/**
 * The relay load of the signaling bench: chosen members of a swarm signal their room peers at a
 * steady rate under the server's limit, and what arrives inside a measuring window is counted.
 * Used for "every connection sending" and for the active rooms of the idle-rooms comparison.
 */
import { cpuMeter, type CpuUse } from "./cpu_use.ts";
import { DRAIN_TIMEOUT_MS } from "./signaling_options.ts";
import { CANDIDATE, type Peer } from "./signaling_peer.ts";
import type { RelayResult } from "./signaling_results.ts";
import type { RelayWindow, Swarm } from "./signaling_swarm.ts";
import { round1, summarize } from "./stats.ts";
import { sleep, waitFor } from "./wait.ts";

/**
 * `senders` each signal their room peers round-robin at `ratePerS` (never more than
 * `maxInFlight` undelivered) for warm-up + window; arrivals in the window are counted.
 */
export async function relay(swarm: Swarm, senders: Peer[], windowS: number): Promise<RelayResult> {
  const { ratePerS, maxInFlight, relayWarmupS } = swarm.opts;
  const active = senders.filter((p) => p.others.length > 0);
  for (const p of active) {
    p.sent = p.delivered = p.credit = 0;
  }
  const errorsBefore = { ...swarm.errors };
  const start = performance.now();
  const w: RelayWindow = {
    from: start + relayWarmupS * 1000,
    to: start + (relayWarmupS + windowS) * 1000,
    delivered: 0,
    latencies: [],
  };
  swarm.window = w;
  let windowSent = 0;
  // One timer for all senders; credit accrues with the real time between ticks, capped so a
  // late tick cannot burst (the server's bucket allows 100; this stays far below).
  const maxCredit = Math.max(2, ratePerS / 10);
  let last = start;
  const tick = () => {
    const now = performance.now();
    const gained = (now - last) / 1000 * ratePerS;
    last = now;
    const inWindow = now >= w.from && now <= w.to;
    for (const p of active) {
      p.credit = Math.min(maxCredit, p.credit + gained);
      while (p.credit >= 1 && p.sent - p.delivered < maxInFlight) {
        const to = p.others[p.next++ % p.others.length];
        if (!p.signal(to.id, { k: "relay", t: performance.now(), c: CANDIDATE })) break;
        p.credit--;
        p.sent++;
        if (inWindow) windowSent++;
      }
    }
  };
  const timer = setInterval(tick, 10);
  let cpu: CpuUse;
  try {
    await sleep(w.from - performance.now());
    const stopMeter = await cpuMeter(swarm.server);
    await sleep(w.to - performance.now());
    cpu = await stopMeter();
  } finally {
    clearInterval(timer);
  }
  // Let what is in flight arrive, so `lost` only counts real losses.
  await waitFor(() => active.every((p) => p.delivered >= p.sent), DRAIN_TIMEOUT_MS);
  swarm.window = null;
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(swarm.errors)) {
    if (n > (errorsBefore[code] ?? 0)) errors[code] = n - (errorsBefore[code] ?? 0);
  }
  return {
    senders: active.length,
    connected: swarm.joined.length,
    windowS,
    offeredPerS: Math.round(windowSent / windowS),
    delivered: w.delivered,
    deliveredPerS: Math.round(w.delivered / windowS),
    latencyMs: summarize(w.latencies),
    lost: active.reduce((sum, p) => sum + Math.max(0, p.sent - p.delivered), 0),
    errors,
    cpu,
    serverCpuUsPerMsg: round1(cpu.serverMs * 1000 / Math.max(1, w.delivered)),
  };
}
