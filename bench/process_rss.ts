/**
 * Resident memory of a server and every process under it (`deno serve --parallel` runs its
 * isolates as threads of one process today, but a launcher or a future version may fork), and a
 * sampler that records it over a phase: before, at its peak, and after.
 */
import { processRssKiB } from "./signaling_server.ts";

/** `pid` and its descendants (from /proc/<pid>/task/<tid>/children). */
async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = await Array.fromAsync(Deno.readDir(`/proc/${out[i]}/task`)).catch(() => []);
    for (const task of tasks) {
      const children = await Deno.readTextFile(`/proc/${out[i]}/task/${task.name}/children`)
        .catch(() => "");
      for (const child of children.trim().split(/\s+/).filter(Boolean)) out.push(Number(child));
    }
  }
  return out;
}

/** VmRSS of `pid` and its descendants together, in KiB. */
export async function treeRssKiB(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) total += await processRssKiB(p).catch(() => 0);
  return total;
}

/** Samples a process tree's RSS every `everyMs` until stopped; `peakKiB` is the highest seen. */
export class RssSampler {
  peakKiB = 0;
  samples = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reading: Promise<void> = Promise.resolve();

  constructor(readonly pid: number, readonly everyMs = 50) {}

  /** Starts sampling (one sample at once). */
  async start(): Promise<number> {
    const first = await this.#sample();
    this.#timer = setInterval(() => {
      // One reading at a time: a slow /proc read on a busy machine must not pile up.
      this.#reading = this.#reading.then(() => this.#sample()).then(() => {});
    }, this.everyMs);
    return first;
  }

  /** Stops sampling; the peak, including one last sample. */
  async stop(): Promise<number> {
    clearInterval(this.#timer);
    await this.#reading;
    await this.#sample();
    return this.peakKiB;
  }

  async #sample(): Promise<number> {
    const kib = await treeRssKiB(this.pid);
    this.samples++;
    this.peakKiB = Math.max(this.peakKiB, kib);
    return kib;
  }
}
