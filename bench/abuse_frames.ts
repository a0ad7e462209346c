/**
 * The server's memory under bursts of the largest frames, on a `deno serve --parallel` server
 * (2 isolates), each burst on a fresh server:
 *
 * - 10 sockets each send one 32 MiB frame at once (raw WebSockets: no join needed). The server
 *   refuses anything over 64 KiB (`too-large`), but only once the frame has arrived whole;
 * - 10 joined sockets each send one frame of exactly 64 KiB (a 32 KiB signal padded with
 *   whitespace) to a peer on the other isolate;
 * - the same, 99 frames each at once (a whole per-socket token bucket).
 *
 * RSS is sampled every 20 ms from before the burst until every frame is answered, then once
 * more after a short settle.
 */
import { MAX_FRAME_BYTES, MAX_PAYLOAD_BYTES, RATE_LIMIT } from "../signaling/limits.ts";
import { clientMessage } from "../signaling/protocol.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { encodeFrame, OP_TEXT, RawWebSocket } from "../tests/live_server.ts";
import {
  addCounts,
  addressPool,
  type BenchSocket,
  count,
  type Counts,
  joinPlaced,
  leaveAll,
  placePairs,
} from "./abuse_client.ts";
import { ABUSE_SERVER_ENV } from "./abuse_flood.ts";
import type { FrameBurstResult } from "./abuse_results.ts";
import { RssSampler, treeRssKiB } from "./process_rss.ts";
import { startSignalingServer } from "./signaling_server.ts";
import { sleep, waitFor } from "./wait.ts";

const SOCKETS = 10;
const MiB = 1024 * 1024;
/** How long a burst may take to be answered before the bench stops waiting. */
const ANSWER_TIMEOUT_MS = 60_000;
/** After the burst, before the "after" reading. */
const SETTLE_MS = 2_000;

/** Every burst, each against a fresh server. */
export async function runFrameBursts(
  root: URL,
  log: (line: string) => void,
): Promise<FrameBurstResult[]> {
  const out: FrameBurstResult[] = [];
  out.push(await withServer(root, log, (s) => hugeFrames(s, 32 * MiB, log)));
  out.push(await withServer(root, log, (s) => signalFrames(s, 1, log)));
  out.push(await withServer(root, log, (s) => signalFrames(s, RATE_LIMIT.burst - 1, log)));
  return out;
}

type Server = Awaited<ReturnType<typeof startSignalingServer>>;

async function withServer<T>(
  root: URL,
  log: (line: string) => void,
  fn: (server: Server) => Promise<T>,
): Promise<T> {
  const server = await startSignalingServer(root, {
    parallel: true,
    jobs: 2,
    env: ABUSE_SERVER_ENV,
  });
  const onSigint = () => void server.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    return await fn(server);
  } catch (err) {
    log(`  server log:\n${server.log()}`);
    throw err;
  } finally {
    await RawWebSocket.closeAll();
    await server.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** `SOCKETS` raw sockets each send one frame of `bytes` at once; the server must refuse them. */
async function hugeFrames(
  server: Server,
  bytes: number,
  log: (line: string) => void,
): Promise<FrameBurstResult> {
  const port = Number(new URL(server.origin).port);
  const pool = addressPool();
  const setupRefusals: Counts = {};
  const sockets: RawWebSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const res = await RawWebSocket.open(port, `/api/rooms/${newRoomId()}/ws`, {
      headers: { "X-Forwarded-For": pool() },
    });
    if (res.ok) sockets.push(res.socket);
    else count(setupRefusals, `http-${res.status}`);
  }
  // A signal whose payload fills the frame; one encoding (zero mask key) serves every socket.
  const head = '{"type":"signal","to":"AAAAAAAAAAAAAAAA","payload":"';
  const text = new Uint8Array(bytes).fill(0x78);
  text.set(new TextEncoder().encode(head));
  text.set(new TextEncoder().encode('"}'), bytes - 2);
  const frame = encodeFrame(OP_TEXT, text);

  const rss = new RssSampler(server.pid, 20);
  const before = await rss.start();
  const started = performance.now();
  await Promise.all(sockets.map((s) => s.sendRaw(frame)));
  const answered = await waitFor(() => sockets.every((s) => s.isClosed), ANSWER_TIMEOUT_MS);
  const durationMs = performance.now() - started;
  await sleep(SETTLE_MS);
  const peak = await rss.stop();
  const after = await treeRssKiB(server.pid);
  const closes: Counts = {};
  const errors: Counts = {};
  for (const s of sockets) {
    count(closes, String(s.closeCode ?? "open"));
    for (const m of s.json()) if (m.type === "error") count(errors, String(m.code));
  }
  const result: FrameBurstResult = {
    label: `${SOCKETS} sockets × one ${bytes / MiB} MiB frame`,
    sockets: sockets.length,
    frameBytes: bytes,
    framesEach: 1,
    joined: false,
    durationMs,
    rssKiB: { before, peak, after },
    closes,
    errors,
    delivered: 0,
    setupRefusals,
  };
  logBurst(result, answered, log);
  return result;
}

/**
 * `SOCKETS` joined senders, each paired with a target on the other isolate, each send `frames`
 * frames of exactly `MAX_FRAME_BYTES` at once: signals with the largest payload, padded.
 */
async function signalFrames(
  server: Server,
  frames: number,
  log: (line: string) => void,
): Promise<FrameBurstResult> {
  const kv = await Deno.openKv(server.kvPath);
  const sockets: BenchSocket[] = [];
  const setupRefusals: Counts = {};
  try {
    // Any isolate will do for the senders, as long as the targets are on the other one.
    const probe = await joinPlaced(server.origin, kv, newRoomId(), () => "192.0.2.9", null, {});
    if (!probe) throw new Error("could not join to find an isolate");
    await probe.socket.leave();
    const pairs = await placePairs(
      server.origin,
      kv,
      SOCKETS,
      probe.isolate,
      addressPool(),
      setupRefusals,
      newRoomId,
    );
    for (const p of pairs) sockets.push(p.sender, p.target);
    const texts = pairs.map((p) => {
      const text = clientMessage({
        type: "signal",
        to: p.target.peer,
        payload: "x".repeat(MAX_PAYLOAD_BYTES - 2),
      });
      return text + " ".repeat(MAX_FRAME_BYTES - text.length);
    });

    const rss = new RssSampler(server.pid, 20);
    const before = await rss.start();
    const started = performance.now();
    pairs.forEach((p, i) => {
      for (let n = 0; n < frames; n++) p.sender.send(texts[i]);
    });
    const sent = pairs.length * frames;
    const delivered = () => pairs.reduce((n, p) => n + p.target.signals, 0);
    const refused = () =>
      pairs.reduce(
        (n, p) => n + (p.sender.errors["relay-busy"] ?? 0) + (p.sender.errors["relay-failed"] ?? 0),
        0,
      );
    const answered = await waitFor(() => delivered() + refused() >= sent, ANSWER_TIMEOUT_MS);
    const durationMs = performance.now() - started;
    await sleep(SETTLE_MS);
    const peak = await rss.stop();
    const after = await treeRssKiB(server.pid);
    const closes: Counts = {};
    for (const s of sockets) if (s.closeCode !== null) count(closes, String(s.closeCode));
    const result: FrameBurstResult = {
      label: `${pairs.length} joined sockets × ${frames} frame${frames > 1 ? "s" : ""} of ` +
        `${MAX_FRAME_BYTES / 1024} KiB (32 KiB signals across isolates)`,
      sockets: pairs.length,
      frameBytes: MAX_FRAME_BYTES,
      framesEach: frames,
      joined: true,
      durationMs,
      rssKiB: { before, peak, after },
      closes,
      errors: addCounts(...pairs.map((p) => p.sender.errors)),
      delivered: delivered(),
      setupRefusals,
    };
    logBurst(result, answered, log);
    return result;
  } finally {
    await leaveAll(sockets);
    kv.close();
  }
}

function logBurst(r: FrameBurstResult, answered: boolean, log: (line: string) => void): void {
  const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
  log(
    `\n[abuse: frames] ${r.label}: ${answered ? "answered" : "NOT all answered"} in ` +
      `${Math.round(r.durationMs)} ms; RSS ${mib(r.rssKiB.before)} → peak ${
        mib(r.rssKiB.peak)
      } → ` +
      `${mib(r.rssKiB.after)}; closes ${JSON.stringify(r.closes)}, errors ` +
      `${JSON.stringify(r.errors)}${r.joined ? `, delivered ${r.delivered}` : ""}` +
      (Object.keys(r.setupRefusals).length
        ? `; setup refusals ${JSON.stringify(r.setupRefusals)}`
        : ""),
  );
}
