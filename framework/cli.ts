/**
 * `deno task build | start | dev`: the framework's command line. Usage:
 *   deno run -A framework/cli.ts build   regenerate fresh.gen.ts and write island bundles to _fresh/
 *   deno run -A framework/cli.ts start   build when needed, then `deno serve --parallel main.ts`
 *   deno run -A framework/cli.ts dev     serve with live reload, restarting on file changes
 */
import { loadBuild, writeBuild } from "./build.ts";
import { islandName, writeManifest } from "./manifest.ts";
import { serveV8FlagsArg } from "./v8_flags.ts";

const root = Deno.cwd();

async function islandPaths(): Promise<Record<string, string>> {
  const { default: manifest } = await import(`${toFileUrl(root)}/fresh.gen.ts`);
  const islands: Record<string, string> = {};
  for (const file of Object.keys(manifest.islands)) {
    islands[islandName(file)] = `${root}/${file.slice(2)}`;
  }
  return islands;
}

function toFileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

async function build(): Promise<void> {
  if (await writeManifest(root)) console.log("Updated fresh.gen.ts");
  const islands = await islandPaths();
  // The bundler is loaded only here: `start` over a fresh `_fresh/` never needs esbuild.
  const { buildIslands } = await import("./bundle.ts");
  const started = performance.now();
  const result = await buildIslands({ root, islands, runtimeEntry: `${root}/framework/client.ts` });
  await writeBuild(`${root}/_fresh`, result);
  const bytes = [...result.files.values()].reduce((n, f) => n + f.byteLength, 0);
  console.log(
    `Built ${Object.keys(islands).length} islands into _fresh/ (${result.files.size} files, ` +
      `${bytes} bytes) in ${Math.round(performance.now() - started)} ms`,
  );
}

/** Serves on every core. Builds first when the bundles are missing or stale, so isolates share them. */
async function start(): Promise<void> {
  const islands = await islandPaths();
  const loaded = await loadBuild(`${root}/_fresh`, root, islands);
  if (typeof loaded === "string" && Object.keys(islands).length > 0) {
    console.log(`Building islands (${loaded})`);
    await build();
  }
  const port = Deno.env.get("PORT") ?? "8000";
  const host = Deno.env.get("HOSTNAME") ?? "0.0.0.0";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--parallel",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-sys",
      serveV8FlagsArg(),
      `--port=${port}`,
      `--host=${host}`,
      "main.ts",
    ],
    stdin: "inherit",
  }).spawn();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => child.kill(signal));
  }
  Deno.exit((await child.status).code);
}

async function dev(): Promise<void> {
  await writeManifest(root);
  const { default: manifest } = await import(`${toFileUrl(root)}/fresh.gen.ts`);
  const { default: config } = await import(`${toFileUrl(root)}/fresh.config.ts`);
  const { createApp } = await import("./server.ts");
  const app = await createApp(manifest, { ...config, dev: true });
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const hostname = Deno.env.get("HOSTNAME") ?? "0.0.0.0";
  Deno.serve({ port, hostname }, app.handler);
}

const command = Deno.args[0];
if (command === "build") await build();
else if (command === "start") await start();
else if (command === "dev") await dev();
else {
  console.error("Usage: deno run -A framework/cli.ts build|start|dev");
  Deno.exit(2);
}
