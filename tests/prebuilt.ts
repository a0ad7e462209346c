/**
 * Test helper: the island bundles on disk (`_fresh/`), built from the checkout's current sources,
 * so that a test can start the production server (`deno serve main.ts`), which refuses to start
 * without them. Builds at most once per test process, and only when `_fresh/` is missing or stale;
 * several test processes may build at once (framework/build.ts writes each file atomically).
 */

const ROOT = new URL("..", import.meta.url).pathname;

/** The `deno run` arguments of `deno task build`, plus `--if-stale`. */
export async function buildArgs(root = ROOT): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const words = (config.tasks.build as string).trim().split(/\s+/);
  if (words[0] !== "deno") throw new Error(`deno.json's build task does not run deno: ${words}`);
  return [...words.slice(1), "--if-stale"];
}

/** Runs the build in `root` (default: this checkout) when `_fresh/` is missing or stale. */
export async function buildIfStale(root = ROOT): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: await buildArgs(root),
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  if (!out.success) throw new Error(`deno task build failed in ${root}:\n${text}`);
  return text;
}

let checkout: Promise<string> | undefined;

/** {@link buildIfStale} for this checkout, once per process. */
export function ensureBuilt(): Promise<string> {
  checkout ??= buildIfStale().catch((e) => {
    checkout = undefined; // a later caller tries again, and sees the error itself
    throw e;
  });
  return checkout;
}
