/**
 * `deno task bench`: page weight, server render time and single-core throughput of Mooz, and the
 * signaling server under 2,000 sockets (signaling.ts). Prints a report (ending with Markdown
 * tables for the README) and writes .bench/results.json.
 *
 * - `--pages` / `--signaling` / `--mesh` / `--abuse` / `--files`: run only those parts (default:
 *   all five). `--mesh` is time to full mesh in real Chromium (bench/mesh.ts), run inside a
 *   loopback-only network namespace (`unshare -rn`); where that is not possible it is skipped
 *   with a note. `--abuse` is floods between isolates and bursts of large frames
 *   (bench/abuse.ts). `--files` is file sharing's throughput against the raw data-channel rate
 *   of the same links (bench/files.ts, also in `unshare -rn`); `--files-size MB` (default 300)
 *   and `--files-runs N` (default 3).
 * - `--board`: the whiteboard in real Chromium (bench/board.ts, also under `unshare -rn`): update
 *   size per stroke, a late joiner's time to receive 500 and 5,000 strokes. Only with the flag.
 * - `--rooms N --peers N --concurrency N`: signaling load (default 500 rooms × 4 peers, 64 joining
 *   at a time); `--no-link-reports`: the bench clients never report link states (browsers do);
 *   `--single` / `--parallel`: only that server mode.
 * - `--quick`: short versions of the timed benches (for a smoke test).
 */
import { type LoadResult, loadTest } from "./http_load.ts";
import { measurePageWeight, type PageWeight } from "./page_weight.ts";
import { measureRender } from "./render.ts";
import { buildOnce, type RunningServer, startServer } from "./server.ts";
import { runAbuseBench } from "./abuse.ts";
import { type AbuseReport, abuseTable } from "./abuse_results.ts";
import { runSignalingBench } from "./signaling.ts";
import { DEFAULT_SIGNALING, type SignalingOptions } from "./signaling_options.ts";
import type { SignalingReport } from "./signaling_results.ts";
import { signalingTable } from "./signaling_table.ts";
import type { MeshResult } from "./mesh.ts";
import type { BoardBenchResult } from "./board.ts";
import type { FilesBenchResult } from "./files.ts";
import { int, kib, ms } from "./stats.ts";
import { newRoomId } from "../signaling/room_id.ts";

const ROOT = new URL("../", import.meta.url);
const quick = Deno.args.includes("--quick");
// No part named means all of them.
const onlyPages = Deno.args.includes("--pages");
const onlySignaling = Deno.args.includes("--signaling");
const onlyMesh = Deno.args.includes("--mesh");
const onlyAbuse = Deno.args.includes("--abuse");
const runBoard = Deno.args.includes("--board");
const onlyFiles = Deno.args.includes("--files");
const none = !onlyPages && !onlySignaling && !onlyMesh && !onlyAbuse && !onlyFiles && !runBoard;
const runPages = onlyPages || none;
const runSignaling = onlySignaling || none;
const runMesh = onlyMesh || none;
const runAbuse = onlyAbuse || none;
const runFiles = onlyFiles || none;

/** `--name N`: a positive integer option, or `fallback` when absent. */
function intArg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(Deno.args[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} needs a whole number of at least 1, got ${Deno.args[i + 1]}`);
  }
  return value;
}

const SIGNALING: SignalingOptions = {
  ...DEFAULT_SIGNALING,
  ...(quick ? { rooms: 50, relayS: 2, scaleS: 1 } : {}),
  rooms: intArg("rooms", quick ? 50 : DEFAULT_SIGNALING.rooms),
  peers: intArg("peers", DEFAULT_SIGNALING.peers),
  concurrency: intArg("concurrency", DEFAULT_SIGNALING.concurrency),
  linkReports: !Deno.args.includes("--no-link-reports"),
  modes: Deno.args.includes("--single")
    ? ["single"]
    : Deno.args.includes("--parallel")
    ? ["parallel"]
    : DEFAULT_SIGNALING.modes,
};
const RENDER = quick ? { warmup: 50, iterations: 200 } : { warmup: 500, iterations: 2_000 };
const LOAD = {
  concurrency: 32,
  warmupMs: quick ? 500 : 2_000,
  durationMs: quick ? 2_000 : 10_000,
  maxRequests: 2_000_000,
  timeoutMs: 5_000,
};

async function machine() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown",
    memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}

function printWeight(w: PageWeight) {
  console.log(`\n  ${w.path}`);
  console.log(
    `    HTML            ${int(w.html.raw).padStart(8)} B raw  ${int(w.html.gzip)} B gzip`,
  );
  console.log(
    `    inline scripts  ${w.inline.count}: ${int(w.inline.code)} B code, ${
      int(w.inline.data)
    } B data`,
  );
  for (const f of w.scripts) {
    console.log(
      `    ${f.url.padEnd(44)} ${int(f.raw).padStart(8)} B  ${int(f.gzip).padStart(7)} B gz`,
    );
  }
  console.log(
    `    JS total: ${w.js.files} files, ${int(w.js.raw)} B raw (${kib(w.js.raw)}), ${
      int(w.js.gzip)
    } B gzip (${kib(w.js.gzip)})`,
  );
  if (w.later.length) {
    console.log("    loaded later with import():");
    for (const f of w.later) {
      console.log(
        `    ${f.url.padEnd(44)} ${int(f.raw).padStart(8)} B  ${int(f.gzip).padStart(7)} B gz`,
      );
    }
    console.log(
      `    later total: ${w.laterJs.files} files, ${int(w.laterJs.raw)} B raw (${
        kib(w.laterJs.raw)
      }), ${int(w.laterJs.gzip)} B gzip (${kib(w.laterJs.gzip)})`,
    );
    const onDemand = w.later.filter((f) => (f.depth ?? 1) > 1);
    if (onDemand.length) {
      const sum = (key: "raw" | "gzip") => onDemand.reduce((n, f) => n + f[key], 0);
      console.log(
        `    of which on demand (a dialog, the whiteboard): ${onDemand.length} files, ` +
          `${kib(sum("raw"))} raw, ${kib(sum("gzip"))} gzip`,
      );
    }
  }
  if (w.skipped.length) console.log(`    not fetched (other origin): ${w.skipped.join(", ")}`);
}

const facts = await machine();
console.log(
  `Mooz bench: ${facts.nproc} × ${facts.cpu}, Deno ${facts.deno}${quick ? " (quick)" : ""}`,
);

// Both parts need the prebuilt islands: without them the server builds in memory at start-up.
console.log("\n[build] deno task build");
console.log(`  ${await buildOnce(ROOT)}`);

/** Render time, page weight and HTTP throughput; returns the results and the README table. */
async function pagesBench() {
  const room = `/${newRoomId()}`;
  console.log(
    `\n[render] in-process handler, ${RENDER.warmup} warm-up + ${RENDER.iterations} timed`,
  );
  const render = await measureRender(["/", room], RENDER);
  for (const r of render) {
    const s = r.ms;
    console.log(
      `  ${r.path.padEnd(26)} median ${ms(s.median)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${
        ms(s.max)
      }  first ${ms(r.firstMs)}  (${int(r.bodyBytes)} B)`,
    );
  }

  let server: RunningServer | undefined;
  // Ctrl-C skips `finally`, so stop the server from the signal too.
  const onSigint = () => void server?.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSigint);
  let weights: PageWeight[];
  let load: LoadResult;
  try {
    server = await startServer(ROOT);
    console.log(
      `\n[server] deno serve main.ts (one isolate) pid ${server.pid} at ${server.origin}`,
    );

    console.log("\n[page weight] first load, gzip -9 per file");
    weights = [
      await measurePageWeight(server.origin, "/"),
      await measurePageWeight(server.origin, room),
    ];
    weights.forEach(printWeight);

    const secs = LOAD.durationMs / 1000;
    console.log(
      `\n[http] GET / with ${LOAD.concurrency} keep-alive clients, ${
        LOAD.warmupMs / 1000
      } s warm-up + ${secs} s`,
    );
    load = await loadTest({ ...LOAD, url: `${server.origin}/` });
    const l = load.latencyMs;
    console.log(
      `  ${int(load.rps)} req/s  (${int(load.requests)} requests, ${load.errors} errors)  ` +
        `latency p50 ${ms(l.median)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  max ${ms(l.max)}`,
    );
    if (load.errors) {
      console.log(`  errors: ${load.errorSamples.join("; ")}\n  server log:\n${server.log()}`);
    }
    if (load.capped) console.log(`  stopped early by the ${int(LOAD.maxRequests)}-request cap`);
    console.log(
      `  note: client and server share this ${facts.nproc}-core machine; the server uses one isolate.`,
    );
  } finally {
    await server?.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
  }

  // The README table: one column per page.
  const [home, roomWeight] = weights;
  const [homeRender, roomRender] = render;
  const weightRow = (w: PageWeight) => `${kib(w.js.raw)} / ${kib(w.js.gzip)} (${w.js.files} files)`;
  const laterRow = (w: PageWeight) =>
    w.laterJs.files
      ? `${kib(w.laterJs.raw)} / ${kib(w.laterJs.gzip)} (${w.laterJs.files} files)`
      : "none";
  const htmlRow = (w: PageWeight) => `${kib(w.html.raw)} / ${kib(w.html.gzip)}`;
  const renderRow = (r: typeof homeRender) =>
    `${ms(r.ms.median)} / ${ms(r.ms.p90)} / ${ms(r.ms.p99)}`;
  const table = [
    "| Metric | `/` | `/{room}` |",
    "| --- | --- | --- |",
    `| JS on first load, raw / gzip | ${weightRow(home)} | ${weightRow(roomWeight)} |`,
    `| JS loaded later (import()), raw / gzip | ${laterRow(home)} | ${laterRow(roomWeight)} |`,
    `| Inline script (code + JSON state) | ${int(home.inline.code)} B + ${
      int(home.inline.data)
    } B | ${int(roomWeight.inline.code)} B + ${int(roomWeight.inline.data)} B |`,
    `| HTML document, raw / gzip | ${htmlRow(home)} | ${htmlRow(roomWeight)} |`,
    `| Server render, median / p90 / p99 | ${renderRow(homeRender)} | ${renderRow(roomRender)} |`,
    `| Requests/s, 1 isolate, ${load.concurrency} keep-alive clients | ${
      int(load.rps)
    } (${load.errors} errors) | n/a |`,
    `| Latency under that load, p50 / p99 | ${ms(load.latencyMs.median)} / ${
      ms(load.latencyMs.p99)
    } | n/a |`,
  ].join("\n");
  return { render, weights, load, table };
}

const pages = runPages ? await pagesBench() : undefined;
let signaling: SignalingReport | undefined;
if (runSignaling) signaling = await runSignalingBench(ROOT, SIGNALING);

/**
 * Time to full mesh, in a child process inside a loopback-only network namespace: WebRTC between
 * the pages must never reach another address. The child prints its results as JSON.
 */
async function meshBench(): Promise<MeshResult[] | undefined> {
  console.log("\n[mesh] time to full mesh in Chromium (unshare -rn, loopback only)");
  const script = `ip link set lo up && exec "$0" run -A bench/mesh.ts${quick ? " 2" : ""}`;
  const child = await new Deno.Command("unshare", {
    args: ["-rn", "sh", "-c", script, Deno.execPath()],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output().catch((err) => ({ success: false, stdout: new Uint8Array(), err }));
  const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
  if (!child.success) {
    const namespaces = await new Deno.Command("unshare", { args: ["-rn", "true"] }).output()
      .then((o) => o.success, () => false);
    console.log(
      namespaces
        ? "  failed: see the error above"
        : "  skipped: `unshare -rn` is not available here (needs root or user namespaces)",
    );
    return undefined;
  }
  const results = JSON.parse(lines.at(-1)!) as MeshResult[];
  for (const r of results) {
    console.log(
      `  ${r.participants} participants, cameras ${r.video ? "on " : "off"}: median ${
        r.medianMs === null ? "not complete within 60 s" : ms(r.medianMs)
      }  runs ${r.runs.map((t) => t === null ? "timeout" : ms(t)).join(", ")}`,
    );
  }
  return results;
}

const mesh = runMesh ? await meshBench() : undefined;

/**
 * Runs `deno run -A <args>` inside a loopback-only network namespace (`unshare -rn`), as the
 * browser benches need, and parses the JSON of its last line of output; undefined (said on the
 * console) when it failed or the namespace is not available.
 */
async function inLoopbackNamespace<T>(args: string): Promise<T | undefined> {
  const script = `ip link set lo up && exec "$0" run -A ${args}`;
  const child = await new Deno.Command("unshare", {
    args: ["-rn", "sh", "-c", script, Deno.execPath()],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output().catch(() => ({ success: false, stdout: new Uint8Array() }));
  if (!child.success) {
    console.log("  failed or skipped: see the error above (it needs `unshare -rn`)");
    return undefined;
  }
  const lines = new TextDecoder().decode(child.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!) as T;
}

/** The whiteboard's bench, in a loopback-only namespace like the mesh's (bench/board.ts). */
async function boardBench(): Promise<BoardBenchResult | undefined> {
  console.log("\n[board] whiteboard in Chromium (unshare -rn, loopback only)");
  const result = await inLoopbackNamespace<BoardBenchResult>(
    `bench/board.ts${quick ? " --quick" : ""}`,
  );
  if (!result) return undefined;
  for (const u of result.updates) {
    console.log(
      `  one stroke of ${u.points} points: update ${u.updateBytes} B, ${u.frameBytes} B per peer`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const j of result.lateJoins) {
    console.log(
      `  late joiner, ${int(j.strokes)} strokes (${kib(j.boardBytes)}): board link → whole ` +
        `board ${ms(median(j.syncMs))}, Join → whole board ${ms(median(j.joinMs))}, ` +
        `open → painted ${ms(median(j.openMs))}  (runs ${j.syncMs.map(ms).join(", ")})`,
    );
  }
  return result;
}

const board = runBoard ? await boardBench() : undefined;

/**
 * File sharing against the raw data-channel rate, in a child process inside a loopback-only
 * network namespace (as the mesh bench). The child prints its result as JSON.
 */
async function filesBench(): Promise<FilesBenchResult | undefined> {
  const size = intArg("files-size", quick ? 50 : 300);
  const runs = intArg("files-runs", quick ? 1 : 3);
  console.log(
    `\n[files] ${size} MB, 1→1 and 1→2, raw loop and file sharing alternating, ${runs} runs`,
  );
  return await inLoopbackNamespace<FilesBenchResult>(`bench/files.ts ${size} ${runs}`);
}

/** The README's table of `filesBench`'s result. */
function filesTable(r: FilesBenchResult): string {
  const row = (what: string, raw: number, files: number) =>
    `| ${what} | ${raw.toFixed(1)} MB/s | ${files.toFixed(1)} MB/s | ${
      Math.round(files / raw * 100)
    }% |`;
  const m = r.median;
  return [
    `File sharing, ${r.sizeBytes / 1e6} MB, median of ${
      r.runs.length / 4
    } runs (MB/s per receiver):`,
    "",
    "| Sender → receivers | Raw data channel | File sharing | Share of raw |",
    "| --- | --- | --- | --- |",
    row("1 → 1", m.raw1, m.files1),
    row("1 → 2", m.raw2, m.files2),
  ].join("\n");
}

const filesResult = runFiles ? await filesBench() : undefined;
const abuse: AbuseReport | undefined = runAbuse ? await runAbuseBench(ROOT, { quick }) : undefined;

const machineLine =
  `Machine: ${facts.nproc} × ${facts.cpu} (nproc ${facts.nproc}), ${facts.memGiB} GiB, ` +
  `${facts.os}, Deno ${facts.deno}. Load client and server share the machine.`;
if (pages) console.log(`\n${pages.table}\n\ngzip is level 9 per file.`);
if (signaling) console.log(`\n${signalingTable(signaling)}`);
if (abuse) console.log(`\n${abuseTable(abuse)}`);
if (filesResult) console.log(`\n${filesTable(filesResult)}`);
console.log(`\n${machineLine}`);

const out = new URL(".bench/results.json", ROOT);
await Deno.mkdir(new URL(".bench/", ROOT), { recursive: true });
const results = {
  date: new Date().toISOString(),
  quick,
  machine: facts,
  options: { render: RENDER, load: LOAD, signaling: signaling?.options },
  pageWeight: pages?.weights,
  render: pages?.render,
  http: pages?.load,
  signaling,
  mesh,
  abuse,
  board,
  files: filesResult,
};
await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
console.log(`\nWrote ${out.pathname}`);
