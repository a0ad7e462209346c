/**
 * `deno task test`: makes sure Chromium is there for the browser tests, runs every test, and
 * ends with one plain line `N passed, N failed` that CI reads.
 */
import { findChromium } from "./chromium.ts";

let chrome: string;
try {
  chrome = await findChromium();
} catch (e) {
  console.error((e as Error).message);
  console.log("0 passed, 1 failed");
  Deno.exit(1);
}

const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", ...Deno.args],
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
