/**
 * `deno task screenshots`: a picture of every screen of the app (tests/screens.ts) at a laptop's
 * and a phone's width, in real Chromium against the real server, saved as
 * `screenshots/<screen>-<width>.png` with an `index.html` that shows them side by side.
 *
 * The screens include meetings with real WebRTC between the pages, which must never leave
 * loopback: like `deno task test`, this runs itself again inside a private network namespace
 * whose only interface is loopback (`unshare -rn`), after filling the caches it needs there.
 *
 * Options: `--out=DIR` (default `screenshots/` in the project, which git ignores; its old PNGs
 * are removed first), `--only=NAME,NAME` (every screen is still reached, only these are saved).
 */
import { findChromium, run } from "./chromium.ts";
import { cannotTour, runTour, SCREENS, type Viewport, WIDTHS } from "./screens.ts";
import { quiet } from "./quiet_command.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Marks the run inside the namespace, so it never tries to enter one again. */
const INSIDE = "--inside-namespace";

interface Options {
  out: string;
  only: Set<string> | null;
  inside: boolean;
}

function parseArgs(args: string[]): Options {
  const opts: Options = { out: `${ROOT}screenshots`, only: null, inside: false };
  for (const arg of args) {
    if (arg === INSIDE) opts.inside = true;
    else if (arg.startsWith("--out=")) opts.out = arg.slice("--out=".length);
    else if (arg.startsWith("--only=")) {
      opts.only = new Set(arg.slice("--only=".length).split(",").filter(Boolean));
      const unknown = [...opts.only].filter((n) => !SCREENS.some((s) => s.name === n));
      if (unknown.length > 0) {
        fail(`no such screen: ${unknown.join(", ")}; the screens are ${names()}`);
      }
    } else fail(`unknown argument ${arg}; use --out=DIR and --only=NAME,NAME`);
  }
  return opts;
}

function names(): string {
  return SCREENS.map((s) => s.name).join(", ");
}

function fail(message: string): never {
  console.error(`deno task screenshots: ${message}`);
  Deno.exit(1);
}

/** The file name of a screen's picture at a width. */
function fileName(screen: string, viewport: Viewport): string {
  return `${screen}-${viewport.width}.png`;
}

/** Whether fontconfig knows a font with emoji (the safety codes and reactions are emoji). */
async function hasEmojiFont(): Promise<boolean> {
  const { ok, output } = await quiet("fc-list", [":lang=und-zsye", "family"]);
  return ok && output.trim() !== "";
}

/**
 * Without an emoji font Chromium draws every emoji as an empty box: installs Debian's when root
 * (as tests/chromium.ts does for Chromium), else says how.
 */
async function ensureEmojiFont(): Promise<void> {
  if (await hasEmojiFont()) return;
  if (Deno.uid() === 0) {
    console.log("No emoji font: installing Debian's fonts-noto-color-emoji (apt-get)...");
    if (
      await run("apt-get", ["update", "-qq"]) &&
      await run("apt-get", ["install", "-y", "-qq", "fonts-noto-color-emoji"]) &&
      await hasEmojiFont()
    ) return;
  }
  console.error(
    "warning: no emoji font, so emoji show as empty boxes in the screenshots; install one " +
      "(Debian/Ubuntu: `sudo apt-get install fonts-noto-color-emoji`).",
  );
}

/**
 * Outside the namespace: finds Chromium and an emoji font, fills node_modules and Deno's cache for this script and
 * for the server it spawns (nothing can be fetched inside), then runs this script again in a
 * loopback-only namespace and exits with its code.
 */
async function enterNamespace(args: string[]): Promise<never> {
  let chrome: string;
  try {
    chrome = await findChromium();
  } catch (e) {
    fail((e as Error).message);
  }
  await ensureEmojiFont();
  const deno = Deno.execPath();
  for (
    const step of [["install", "--quiet"], ["cache", "--quiet", "main.ts", "tests/screenshots.ts"]]
  ) {
    const { ok, output } = await quiet(deno, step);
    if (!ok) console.error(`warning: \`deno ${step.join(" ")}\` failed:\n${output.trim()}`);
  }
  if (Deno.build.os !== "linux" || !(await quiet("unshare", ["-rn", "true"])).ok) {
    fail(`\`unshare -rn\` does not work here, so the meetings cannot run: ${cannotTour()}`);
  }
  const script = new URL(import.meta.url).pathname;
  const child = new Deno.Command("unshare", {
    args: [
      "-rn",
      "sh",
      "-c",
      'ip link set lo up && exec "$0" "$@"',
      deno,
      "run",
      "--allow-all",
      script,
      ...args,
      INSIDE,
    ],
    cwd: ROOT,
    env: { CHROME_PATH: chrome },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}

/** Removes the PNGs of an earlier run from the default folder (stale screens would linger). */
async function clearOld(out: string): Promise<void> {
  if (out !== `${ROOT}screenshots`) return;
  for await (const entry of Deno.readDir(out)) {
    if (entry.isFile && /\.png$|^index\.html$/.test(entry.name)) {
      await Deno.remove(`${out}/${entry.name}`);
    }
  }
}

/** A page showing every picture, one row per screen, one column per width. */
function indexHtml(saved: { name: string; description: string; files: string[] }[]): string {
  const esc = (s: string) =>
    s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
  const rows = saved.map((s) =>
    `<section><h2>${esc(s.name)}</h2><p>${esc(s.description)}</p><div>${
      s.files.map((f) => `<a href="${esc(f)}"><img src="${esc(f)}" alt="${esc(f)}"></a>`).join("")
    }</div></section>`
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Mooz screens</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;background:#f8fafc;color:#0f172a}
section{margin-bottom:3rem}div{display:flex;gap:1.5rem;align-items:flex-start}
img{max-height:70vh;max-width:100%;border:1px solid #cbd5e1}</style></head><body>
<h1>Mooz screens at ${WIDTHS.map((v) => `${v.width}×${v.height}`).join(" and ")}</h1>
${rows.join("\n")}
</body></html>
`;
}

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  if (cannotTour()) {
    if (opts.inside) fail(cannotTour()!);
    await enterNamespace(Deno.args);
  }
  await Deno.mkdir(opts.out, { recursive: true });
  await clearOld(opts.out);
  const saved: { name: string; description: string; files: string[] }[] = [];
  await runTour(async ({ screen, page, widths, resize }) => {
    if (opts.only && !opts.only.has(screen.name)) return;
    const files: string[] = [];
    for (const viewport of widths) {
      await resize(viewport);
      const file = fileName(screen.name, viewport);
      await page.screenshot({
        path: `${opts.out}/${file}`,
        fullPage: true,
        animations: "disabled",
      });
      files.push(file);
    }
    saved.push({ name: screen.name, description: screen.description, files });
  });
  await Deno.writeTextFile(`${opts.out}/index.html`, indexHtml(saved));
  const count = saved.reduce((n, s) => n + s.files.length, 0);
  console.log(
    `\n${count} screenshots of ${saved.length} screens in ${opts.out}/ ` +
      `(${WIDTHS.map((v) => v.width).join(" and ")} px wide); open ${opts.out}/index.html to see ` +
      "them all:",
  );
  for (const s of saved) console.log(`  ${s.files.join("  ")}  ${s.description}`);
}

if (import.meta.main) await main();
