/**
 * A bus in another isolate, for bus_local_test.ts: a Worker shares Deno's channel between
 * isolates (and its process-wide queue) exactly as the isolates of `deno serve --parallel` do.
 * Driven by messages from the test: start a bus on a KV file, send signals, report what arrived,
 * block this isolate's thread (so the channel's queue overflows behind it), stop.
 */
import { Bus, type BusStats } from "./bus.ts";

/** What the test asks of the worker. */
export type WorkerCommand =
  | { type: "start"; kvPath: string; isolate: string }
  | { type: "send"; to: string; from: string; count: number }
  | { type: "report" }
  | { type: "block"; flags: SharedArrayBuffer }
  | { type: "stop" };

/** The worker's answer to each command, in order. */
export interface WorkerReport {
  /** `n` of each signal received, per sender (`from`). */
  received: Record<string, number[]>;
  peers: string[];
  stats: BusStats;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerCommand>) => void) | null;
  postMessage(data: unknown): void;
};

let kv: Deno.Kv | null = null;
let bus: Bus | null = null;
const received: Record<string, number[]> = {};

function report(): WorkerReport {
  return { received, peers: bus?.localPeers ?? [], stats: { ...bus!.stats } };
}

scope.onmessage = async (e) => {
  const command = e.data;
  switch (command.type) {
    case "start": {
      kv = await Deno.openKv(command.kvPath);
      bus = new Bus({
        kv,
        isolate: command.isolate,
        pollMs: 50,
        onMessage: (m) => {
          if (m.kind !== "signal") return;
          (received[m.from] ??= []).push((m.payload as { n: number }).n);
        },
      });
      bus.start();
      return scope.postMessage("started");
    }
    case "send": {
      for (let n = 0; n < command.count; n++) {
        bus!.send(command.to, {
          kind: "signal",
          room: "k3fq-9xmp-2hdw-7rtc-a4ze",
          from: command.from,
          to: "BBBBBBBBBBBBBBBB",
          payload: { n },
        });
      }
      return scope.postMessage("sent");
    }
    case "report":
      return scope.postMessage(report());
    case "block": {
      // Blocks this isolate's thread until the test lets go: nothing here reads the channel.
      const flags = new Int32Array(command.flags);
      Atomics.store(flags, 1, 1);
      Atomics.wait(flags, 0, 0);
      return scope.postMessage("unblocked");
    }
    case "stop":
      await bus?.stop();
      kv?.close();
      return scope.postMessage("stopped");
  }
};
