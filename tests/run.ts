/**
 * `deno task test`: installs what the tests need while the network is there (Chromium, coturn,
 * ffmpeg, every npm and module dependency of the tests and of the server they spawn), then runs every
 * test — inside a private network namespace with only loopback when `unshare -rn` works, so that
 * the real-browser WebRTC tests can run and never reach another address — and ends with one plain
 * line `N passed, N failed` that CI reads. Without `unshare` the tests run directly and the WebRTC
 * ones skip themselves with a message (set MOOZ_TEST_NETNS=0 to choose that).
 */
import { findChromium } from "./chromium.ts";
import { findTurnserver } from "./coturn.ts";
import { findFfmpeg } from "./media_tools.ts";
import { quiet } from "./quiet_command.ts";

const deno = Deno.execPath();

let chrome: string;
try {
  chrome = await findChromium();
} catch (e) {
  console.error((e as Error).message);
  console.log("0 passed, 1 failed");
  Deno.exit(1);
}

try {
  await findTurnserver();
} catch (e) {
  // Only the TURN tests need it; they fail with this same message.
  console.error(`warning: ${(e as Error).message}`);
}

try {
  await findFfmpeg();
} catch (e) {
  // Only the recording tests need it; they fail with this same message.
  console.error(`warning: ${(e as Error).message}`);
}

// Inside the namespace nothing can be fetched: fill node_modules and Deno's cache first, for the
// test files (type-checked, not run) and for the server the tests spawn (`deno serve main.ts`).
for (
  const args of [
    ["install", "--quiet"],
    ["cache", "--quiet", "main.ts"],
    ["test", "--allow-all", "--no-run", "--quiet", ...Deno.args],
  ]
) {
  const { ok, output } = await quiet(deno, args);
  // Not fatal: the test run itself reports what is wrong (a type error, a missing package).
  if (!ok) console.error(`warning: \`deno ${args.join(" ")}\` failed:\n${output.trim()}`);
}

/** Whether `unshare -rn` can make a network namespace and bring its loopback up. */
async function namespaceWorks(): Promise<boolean> {
  if (Deno.env.get("MOOZ_TEST_NETNS") === "0") return false;
  if (Deno.build.os !== "linux") return false;
  return (await quiet("unshare", ["-rn", "sh", "-c", "ip link set lo up"])).ok;
}

const testArgs = ["test", "--allow-all", ...Deno.args];
let command: string;
let args: string[];
if (await namespaceWorks()) {
  console.log("Running the tests in a private network namespace with only loopback (unshare -rn).");
  command = "unshare";
  args = ["-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', deno, ...testArgs];
} else {
  console.log(
    (Deno.env.get("MOOZ_TEST_NETNS") === "0"
      ? "MOOZ_TEST_NETNS=0"
      : "`unshare -rn` does not work here") +
      ": running the tests directly; the real-browser WebRTC tests will be skipped (they must " +
      "never leave loopback).",
  );
  command = deno;
  args = testArgs;
}

const child = new Deno.Command(command, {
  args,
  env: { CHROME_PATH: chrome, NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();

// Echo everything while keeping the tail, where deno test prints its summary.
let tail = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-8192);
}
const { code } = await child.status;

const summary = tail.match(/(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
const passed = summary ? Number(summary[1]) : 0;
const failed = summary ? Number(summary[2]) : 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(code);
