/**
 * The README table of the signaling bench: the predecessor's figures, one column per server mode
 * and the targets, followed by a note that names every problem of the run (or says there were
 * none), so a table pasted into the README cannot hide lost signals or failed joins.
 */
import { describeErrors, type ModeResult, type SignalingReport } from "./signaling_results.ts";
import { int, ms } from "./stats.ts";

/**
 * The predecessor (Socket.IO, one process), driven by the same workload on this kind of machine
 * (issue 11's side-by-side run: 2,000 sockets in 500 rooms of 4, 64 rooms joining at a time, load
 * ~1.5, medians of 3 runs). Its server is not part of this repository, so the bench reports these.
 */
export const PREDECESSOR = {
  joinsPerS: 224,
  joinP50Ms: 6.6,
  joinP99Ms: 53,
  allPairsP50Ms: 55,
  pairP50Ms: 31,
  pairP99Ms: 202,
  memoryPerConnKB: 42.9,
  relayPerS: 4_613,
  relayCpuUsPerMsg: 215,
};

/** Ratio to the predecessor, e.g. "4.1×". */
const times = (value: number, base: number) => `${(value / base).toFixed(1)}×`;

/** Whether a mode lost anything: failed joins, unfinished exchanges, refused or lost signals. */
function problems(m: ModeResult): string[] {
  const out: string[] = [];
  if (m.joinFailures) out.push(`${m.joinFailures} joins failed`);
  if (m.steady.failures) out.push(`${m.steady.failures} steady joins failed`);
  if (m.pairs.completed < m.pairs.expected) {
    out.push(`${m.pairs.expected - m.pairs.completed} of ${m.pairs.expected} exchanges unfinished`);
  }
  const errors = { ...m.joinErrors };
  for (const r of [m.relayAll, m.scale.withIdle, m.scale.noIdle]) {
    for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    if (r.lost) out.push(`${r.lost} relayed signals lost`);
  }
  if (Object.keys(errors).length) out.push(`error frames: ${describeErrors(errors)}`);
  return out;
}

/** The README table: predecessor, then one column per server mode. */
export function signalingTable(report: SignalingReport): string {
  const { modes, options, floor } = report;
  const col = (f: (m: ModeResult) => string) => modes.map(f).join(" | ");
  const p = PREDECESSOR;
  const sockets = int(options.rooms * options.peers);
  const scale = modes[0]?.scale;
  const rows = [
    `| ${sockets} sockets, ${options.rooms} rooms × ${options.peers} | Predecessor (Socket.IO, ` +
    `1 process) | ${col((m) => `Mooz, ${m.label}`)} | Target |`,
    `| --- | --- | ${col(() => "---")} | --- |`,
    `| Joins/s (${options.concurrency} joining at a time${
      options.linkReports ? ", browser-like link reports" : ""
    }) | ~${p.joinsPerS} | ${
      col((m) => `${int(m.joinsPerS)} (${times(m.joinsPerS, p.joinsPerS)})`)
    } | ≥ 1× |`,
    `| Join latency (open → welcome) during that ramp, p50 / p99 | ${p.joinP50Ms} ms / ${p.joinP99Ms} ms | ${
      col((m) => `${ms(m.joinMs.median)} / ${ms(m.joinMs.p99)}`)
    } | |`,
    `| Join latency at a steady ${modes[0]?.steady.joinsPerS ?? "—"} joins/s (nothing queued), ` +
    `p50 / p99 | — | ${
      col((m) => `${ms(m.steady.joinMs.median)} / ${ms(m.steady.joinMs.p99)}`)
    } | p50 ≤ 2× of ${p.joinP50Ms} ms |`,
    `| Join → all of the joiner's pairs signaled, p50 / p99 | ${p.allPairsP50Ms} ms | ${
      col((m) => `${ms(m.allPairsMs.median)} / ${ms(m.allPairsMs.p99)}`)
    } | |`,
    `| Same at a steady ${
      modes[0]?.steady.joinsPerS ?? "—"
    } joins/s (rooms of 2), p50 / p99 | — | ${
      col((m) => `${ms(m.steady.allPairsMs.median)} / ${ms(m.steady.allPairsMs.p99)}`)
    } | |`,
    `| Signaling complete per pair (offer, answer, ${options.candidates}+${options.candidates} ` +
    `candidates), p50 / p99 | ${p.pairP50Ms} ms / ${p.pairP99Ms} ms | ${
      col((m) =>
        `${ms(m.pairs.ms.median)} / ${ms(m.pairs.ms.p99)}` +
        (m.pairs.completed < m.pairs.expected
          ? ` (${m.pairs.expected - m.pairs.completed} unfinished)`
          : "")
      )
    } | |`,
    `| Server RSS per connection (all open − before) / sockets | ~${p.memoryPerConnKB} KB | ${
      col((m) =>
        `${m.memory.perConnKiB.toFixed(1)} KiB (${times(m.memory.perConnKiB, p.memoryPerConnKB)})`
      )
    } | < 1× |`,
    ...(floor
      ? [
        `| Same for a bare Deno WebSocket echo server (floor) | n/a | ${
          col(() => `${floor.perConnKiB.toFixed(1)} KiB`)
        } | |`,
      ]
      : []),
    `| Relay throughput, every socket sending (≤ ${options.ratePerS}/s each) | ${
      int(p.relayPerS)
    } msg/s | ${
      col((m) =>
        `${int(m.relayAll.deliveredPerS)} msg/s (${
          times(m.relayAll.deliveredPerS, p.relayPerS)
        }), server CPU ${m.relayAll.cpu.server}%`
      )
    } | ≥ 3× |`,
    `| Relay CPU per message, every socket sending | ${p.relayCpuUsPerMsg} µs | ${
      col((m) => `${m.relayAll.serverCpuUsPerMsg} µs`)
    } | |`,
    `| Relay latency at that load (server saturated), p50 / p99 | n/a | ${
      col((m) => `${ms(m.relayAll.latencyMs.median)} / ${ms(m.relayAll.latencyMs.p99)}`)
    } | |`,
  ];
  if (scale) {
    rows.push(
      `| Relay, ${scale.activeRooms} rooms sending + 0 idle: msg/s, server CPU per msg | n/a | ${
        col((m) => `${int(m.scale.noIdle.deliveredPerS)}, ${m.scale.noIdle.serverCpuUsPerMsg} µs`)
      } | |`,
      `| Same + ${scale.idleRooms} idle rooms (${int(scale.idleRooms * options.peers)} more ` +
        `sockets) | scanned every socket per message | ${
          col((m) =>
            `${int(m.scale.withIdle.deliveredPerS)}, ${m.scale.withIdle.serverCpuUsPerMsg} µs`
          )
        } | flat |`,
      `| Relay latency with ${scale.activeRooms} rooms sending, 0 idle, p50 / p99 | n/a | ${
        col((m) => `${ms(m.scale.noIdle.latencyMs.median)} / ${ms(m.scale.noIdle.latencyMs.p99)}`)
      } | |`,
    );
  }
  const issues = modes.flatMap((m) => problems(m).map((issue) => `${m.label}: ${issue}`));
  // Other work on the machine takes cores from the server and the load generator alike.
  const otherCpu = Math.max(
    0,
    ...modes.flatMap((m) =>
      [m.rampCpu, m.relayAll.cpu, m.scale.withIdle.cpu, m.scale.noIdle.cpu].map((c) => c.other)
    ),
  );
  return [
    ...rows,
    "",
    "Relay messages are ~190 B ICE-candidate payloads, offers and answers ~2 KB. The load " +
    "generator (one Deno process) and the server share the machine; other processes used up " +
    `to ${otherCpu}% of a core during the measured phases. ` +
    (issues.length ? `Problems: ${issues.join("; ")}.` : "No failed joins, unfinished " +
      "exchanges, error frames or lost signals in any phase."),
  ].join("\n");
}
