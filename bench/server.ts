/**
 * Runs the real app the way production does (`deno serve main.ts`), but in ONE isolate and bound
 * to 127.0.0.1 only, so the load test measures a single core and nothing is exposed.
 */
import { spawnChild } from "./child.ts";

export interface RunningServer {
  origin: string;
  pid: number;
  /** The last few KiB of the server's stderr (for error reports). */
  log(): string;
  /** Stops the server: SIGTERM, then SIGKILL if it does not exit within 5 s. Idempotent. */
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/** `deno task build`: writes the island bundles to _fresh/ so the server does not build in memory. */
export async function buildOnce(root: URL): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build"],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`deno task build failed:\n${text}\n${decoder.decode(out.stderr)}`);
  }
  return text;
}

/** A port that was free a moment ago (the OS picks it; the tiny race is acceptable here). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export async function startServer(root: URL, timeoutMs = 30_000): Promise<RunningServer> {
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawnChild(Deno.execPath(), {
    // No --parallel: one isolate, one core. This is what "requests/s on one core" means.
    args: ["serve", "--allow-all", `--port=${port}`, "--host=127.0.0.1", "main.ts"],
    cwd: root,
  });
  const stop = child.stop;

  try {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      if (child.exited()) throw new Error(`server exited during startup:\n${child.tail()}`);
      if (performance.now() > deadline) throw new Error(`server did not answer in ${timeoutMs} ms`);
      try {
        const res = await fetch(`${origin}/`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.ok) break;
      } catch { /* not listening yet */ }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { origin, pid: child.pid, log: child.tail, stop };
}
