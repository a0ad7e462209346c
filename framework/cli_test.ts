/**
 * The command line's small parts: the `deno serve` flags the start task puts on its command line,
 * and the usage error. (`build` and `start` run for real in tests/start_test.ts and
 * tests/deploy_test.ts.)
 */
import assert from "node:assert/strict";
import { serveV8FlagsArg } from "./v8_flags.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env=PORT,HOSTNAME,DENO_JOBS", "framework/cli.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("serve-flags: PORT and HOSTNAME, defaults 8000 and all interfaces, and the V8 flags", async () => {
  const defaults = await cli(["serve-flags"]);
  assert.equal(defaults.code, 0, defaults.stderr);
  assert.equal(defaults.stdout, `--port=8000 --host=0.0.0.0 ${serveV8FlagsArg()}\n`);

  const set = await cli(["serve-flags"], { PORT: "9123", HOSTNAME: "127.0.0.1" });
  assert.equal(set.stdout, `--port=9123 --host=127.0.0.1 ${serveV8FlagsArg()}\n`);

  // An empty variable (a shell that clears it) means the default, not `--port=`.
  const empty = await cli(["serve-flags"], { PORT: "", HOSTNAME: "" });
  assert.equal(empty.stdout, `--port=8000 --host=0.0.0.0 ${serveV8FlagsArg()}\n`);
});

Deno.test("serve-flags: --parallel only when DENO_JOBS asks for several isolates", async () => {
  const flags = `--port=8000 --host=0.0.0.0 ${serveV8FlagsArg()}\n`;
  assert.equal((await cli(["serve-flags"], { DENO_JOBS: "1" })).stdout, flags);
  assert.equal((await cli(["serve-flags"], { DENO_JOBS: "" })).stdout, flags);
  assert.equal((await cli(["serve-flags"], { DENO_JOBS: "4" })).stdout, `--parallel ${flags}`);
  for (const bad of ["0", "two", "-1", "1.5", "99999"]) {
    const res = await cli(["serve-flags"], { DENO_JOBS: bad });
    assert.equal(res.code, 2, bad);
    assert.equal(res.stdout, "", bad);
    assert.match(res.stderr, /DENO_JOBS=.* is not a number of isolates: set it to a whole number/);
  }
});

Deno.test("the start task serves main.ts with serve-flags' output, after the build", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const start: string = config.tasks.start;
  const [build, serve, ...rest] = start.split(" && ");
  assert.deepEqual(rest, []);
  assert.match(build, /framework\/cli\.ts build --if-stale$/);
  // One isolate unless DENO_JOBS asks for more (serve-flags then adds --parallel).
  assert.match(serve, /^deno serve --allow-net /);
  assert.match(
    serve,
    / \$\(deno run --allow-env=PORT,HOSTNAME,DENO_JOBS framework\/cli\.ts serve-flags\) main\.ts$/,
  );
  assert.doesNotMatch(serve, /--allow-run|-A\b|--allow-all/, "production runs no programs");
});

Deno.test("the README's production command uses the same V8 flags", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const commands = [...readme.matchAll(/deno serve --[^\n`]*/g)].map((m) => m[0]);
  const explicit = commands.filter((c) => c.includes("--v8-flags"));
  assert.ok(explicit.length > 0, "the README shows the production command in full");
  for (const command of explicit) assert.ok(command.includes(serveV8FlagsArg()), command);
});

Deno.test("an unknown command or flag prints the usage and exits 2", async () => {
  for (const args of [[], ["start"], ["build", "--fast"], ["serve-flags", "x"]]) {
    const res = await cli(args);
    assert.equal(res.code, 2, args.join(" "));
    assert.match(res.stderr, /Usage: deno run -A framework\/cli\.ts build \[--if-stale\]/);
  }
});
