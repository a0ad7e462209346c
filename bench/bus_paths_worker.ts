/**
 * The far end of bench/bus_paths.ts, in its own isolate (a Worker shares Deno's channel between
 * isolates as `deno serve --parallel` does): a bus that answers pings and counts floods.
 */
import { Bus, type BusMessage } from "../signaling/bus.ts";

/** What the bench asks of this isolate. */
export type BenchCommand =
  | { type: "start"; kvPath: string; isolate: string; peer: string; local: boolean }
  | { type: "expect"; count: number }
  | { type: "stop" };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<BenchCommand>) => void) | null;
  postMessage(data: unknown): void;
};

let kv: Deno.Kv | null = null;
let bus: Bus | null = null;
let peer = "";
let counted = 0;
let expected = Infinity;

function onMessage(message: BusMessage): void {
  if (message.kind !== "signal") return;
  const payload = message.payload as { ping?: number };
  if (payload.ping !== undefined) {
    bus!.send(peer, { ...message, from: message.to, to: message.from });
    return;
  }
  if (++counted === expected) scope.postMessage({ type: "done", stats: { ...bus!.stats } });
}

scope.onmessage = async (e) => {
  const command = e.data;
  switch (command.type) {
    case "start":
      kv = await Deno.openKv(command.kvPath);
      peer = command.peer;
      bus = new Bus({
        kv,
        isolate: command.isolate,
        pollMs: 1_000,
        onMessage,
        local: command.local,
      });
      bus.start();
      return scope.postMessage({ type: "started" });
    case "expect":
      counted = 0;
      expected = command.count;
      return scope.postMessage({ type: "expecting" });
    case "stop":
      await bus?.stop();
      kv?.close();
      return scope.postMessage({ type: "stopped", stats: { ...bus!.stats } });
  }
};
