/**
 * Server render time without the network: the app handler is called in this process, and the
 * clock stops once the whole body has been read (rendering may be lazy or streamed).
 */
import { summarize, type Summary } from "./stats.ts";

export interface RenderResult {
  path: string;
  status: number;
  bodyBytes: number;
  /** The first request: cold JIT and empty CSS cache (twind output is cached per class set). */
  firstMs: number;
  warmup: number;
  ms: Summary;
}

export async function measureRender(
  paths: string[],
  opts: { warmup: number; iterations: number },
): Promise<RenderResult[]> {
  // Imported here, not at the top: `deno task build` may have just regenerated fresh.gen.ts.
  const { default: manifest } = await import("../fresh.gen.ts");
  const { default: config } = await import("../fresh.config.ts");
  const { createApp } = await import("../framework/server.ts");
  const app = await createApp(manifest, config);

  const once = async (url: string) => {
    const req = new Request(url);
    const started = performance.now();
    const res = await app.handler(req);
    const body = await res.arrayBuffer();
    return { ms: performance.now() - started, status: res.status, bytes: body.byteLength };
  };

  const results: RenderResult[] = [];
  for (const path of paths) {
    const url = new URL(path, "http://localhost/").href;
    const first = await once(url);
    if (first.status !== 200) throw new Error(`render ${path}: status ${first.status}`);
    // Warm-up lets V8 optimise the render path so the samples show the steady state (which
    // includes the framework's CSS cache being warm, as it is for a server under traffic).
    for (let i = 0; i < opts.warmup; i++) await once(url);
    const samples: number[] = [];
    for (let i = 0; i < opts.iterations; i++) samples.push((await once(url)).ms);
    results.push({
      path,
      status: first.status,
      bodyBytes: first.bytes,
      firstMs: Math.round(first.ms * 1000) / 1000,
      warmup: opts.warmup,
      ms: summarize(samples),
    });
  }
  return results;
}
