/**
 * `deno task build | start | dev`: the framework's command line. Usage:
 *   deno run -A framework/cli.ts build [--if-stale]
 *       regenerate fresh.gen.ts and write the island bundles, with their .br and .gz forms, to
 *       _fresh/; with --if-stale, only when _fresh/ is missing or older than the sources
 *   deno run --allow-env=PORT,HOSTNAME,DENO_JOBS framework/cli.ts serve-flags
 *       print the `deno serve` flags for production: --port and --host from PORT and HOSTNAME,
 *       --parallel when DENO_JOBS asks for more than one isolate, and the V8 flags (v8_flags.ts)
 *   deno run -A framework/cli.ts dev
 *       serve with live reload, restarting on file changes
 *
 * `deno task start` is `build --if-stale && deno serve … $(… serve-flags) main.ts`:
 * this program exits before the server starts, so no parent of the server stays in memory
 * besides `deno task` itself.
 */
import { loadBuild, writeBuild } from "./build.ts";
import { islandName, writeManifest } from "./manifest.ts";
import type { FreshConfig, Manifest } from "./types.ts";
import { serveV8FlagsArg } from "./v8_flags.ts";

function toFileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

async function importDefault<T>(root: string, file: string): Promise<T> {
  return (await import(`${toFileUrl(root)}/${file}`)).default as T;
}

function islandPaths(root: string, manifest: Manifest): Record<string, string> {
  const islands: Record<string, string> = {};
  for (const file of Object.keys(manifest.islands)) {
    islands[islandName(file)] = `${root}/${file.slice(2)}`;
  }
  return islands;
}

/** `build [--if-stale]`. */
async function build(root: string, ifStale: boolean): Promise<void> {
  if (await writeManifest(root)) console.log("Updated fresh.gen.ts");
  const islands = islandPaths(root, await importDefault<Manifest>(root, "fresh.gen.ts"));
  const config = await importDefault<FreshConfig>(root, "fresh.config.ts");
  const outName = config.build?.outDir ?? "_fresh";
  const outDir = `${root}/${outName}`;
  if (Object.keys(islands).length === 0) {
    console.log("No islands: nothing to build.");
    return;
  }
  if (ifStale) {
    const loaded = await loadBuild(outDir, root, islands);
    if (typeof loaded !== "string") {
      console.log(`Island bundles in ${outName}/ are up to date.`);
      return;
    }
    console.log(`Building islands (${loaded})`);
  }
  // The bundler is loaded only here: a fresh `_fresh/` never needs esbuild.
  const { buildIslands } = await import("./bundle.ts");
  const started = performance.now();
  const result = await buildIslands({
    root,
    islands,
    runtimeEntry: `${root}/framework/client.ts`,
    target: config.build?.target,
  });
  await writeBuild(outDir, result);
  const sum = (files: Iterable<Uint8Array | undefined>) =>
    [...files].reduce((n, f) => n + (f?.byteLength ?? 0), 0);
  const encoded = [...result.encoded.values()];
  console.log(
    `Built ${Object.keys(islands).length} islands into ${outName}/ in ` +
      `${Math.round(performance.now() - started)} ms: ${result.files.size} files, ` +
      `${sum(result.files.values())} bytes (${sum(encoded.map((e) => e.br))} br, ` +
      `${sum(encoded.map((e) => e.gzip))} gzip)`,
  );
}

/**
 * `serve-flags`: `deno serve` reads neither PORT nor HOSTNAME, and `deno task` has no
 * `${PORT:-8000}`; the start task puts this output on the `deno serve` command line instead.
 */
function serveFlags(): string {
  const port = Deno.env.get("PORT") || "8000";
  const host = Deno.env.get("HOSTNAME") || "0.0.0.0";
  return `${parallelFlag()}--port=${port} --host=${host} ${serveV8FlagsArg()}`;
}

/**
 * One isolate unless `DENO_JOBS` (Deno's own setting for `--parallel`, which `deno serve` then
 * reads) asks for more. Why one by default: on the 2-core machine the bench runs on, two isolates
 * were slower than one on every signaling row (each join and many signals cross between them),
 * and one isolate relays ~17 times the predecessor's messages. README, "Several isolates".
 */
function parallelFlag(): string {
  const jobs = Deno.env.get("DENO_JOBS");
  if (!jobs) return "";
  if (!/^[1-9]\d{0,3}$/.test(jobs)) {
    console.error(
      `DENO_JOBS=${jobs} is not a number of isolates: set it to a whole number such as ` +
        "DENO_JOBS=4 (one isolate per core at most), or unset it for one isolate.",
    );
    Deno.exit(2);
  }
  return Number(jobs) > 1 ? "--parallel " : "";
}

async function dev(root: string): Promise<void> {
  await writeManifest(root);
  const manifest = await importDefault<Manifest>(root, "fresh.gen.ts");
  const config = await importDefault<FreshConfig>(root, "fresh.config.ts");
  const { createApp } = await import("./server.ts");
  const app = await createApp(manifest, { ...config, dev: true });
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const hostname = Deno.env.get("HOSTNAME") ?? "0.0.0.0";
  Deno.serve({ port, hostname }, app.handler);
}

const [command, ...flags] = Deno.args;
if (command === "build" && flags.every((f) => f === "--if-stale")) {
  await build(Deno.cwd(), flags.includes("--if-stale"));
} else if (command === "serve-flags" && flags.length === 0) {
  console.log(serveFlags());
} else if (command === "dev" && flags.length === 0) {
  await dev(Deno.cwd());
} else {
  console.error(
    "Usage: deno run -A framework/cli.ts build [--if-stale] | serve-flags | dev\n" +
      "(`deno task build`, `deno task start` and `deno task dev` run these.)",
  );
  Deno.exit(2);
}
