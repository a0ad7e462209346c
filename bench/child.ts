/** A server process for a benchmark: its stderr drained (tail kept), stopped politely then firmly. */

export interface Child {
  pid: number;
  /** The last 4 KiB of stderr. */
  tail(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; waits for exit. Idempotent. */
  stop(): Promise<void>;
}

export function spawnChild(
  cmd: string,
  opts: Omit<Deno.CommandOptions, "stdin" | "stdout" | "stderr"> & { graceMs?: number },
): Child {
  const { graceMs = 5_000, ...command } = opts;
  const child = new Deno.Command(cmd, {
    ...command,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // stderr must be drained or the server blocks once the pipe fills; keep only the tail.
  let tail = "";
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (tail = (tail + chunk).slice(-4096)) }),
  ).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid,
    tail: () => tail,
    exited: () => exited,
    stop: () =>
      stopped ??= (async () => {
        if (!exited) {
          try {
            child.kill("SIGTERM");
          } catch { /* already gone */ }
          const timer = setTimeout(() => {
            if (!exited) child.kill("SIGKILL");
          }, graceMs);
          await status;
          clearTimeout(timer);
        }
        await drained;
      })(),
  };
}
