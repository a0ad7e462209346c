/**
 * Finds the Chromium the browser tests and benchmarks drive, installing Debian's package when it
 * is missing and we are root (never a browser build of its own), and launches it headless.
 */
import { type Browser, type BrowserContext, chromium } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** Whether `path` is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Runs a setup command (apt-get) with its output shown; true when it succeeded. */
export async function run(cmd: string, args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  return success;
}

/** The Chromium binary to use: `CHROME_PATH`, else a system Chromium, else installs one as root. */
export async function findChromium(): Promise<string> {
  const configured = Deno.env.get("CHROME_PATH");
  if (configured) {
    if (await isFile(configured)) return configured;
    throw new Error(`CHROME_PATH is set to ${configured}, but no file is there.`);
  }
  for (const path of CANDIDATES) if (await isFile(path)) return path;

  if (Deno.uid() === 0) {
    console.log("Chromium is missing: installing Debian's chromium package (apt-get)...");
    if (
      await run("apt-get", ["update", "-qq"]) &&
      await run("apt-get", ["install", "-y", "-qq", "chromium"])
    ) {
      if (await isFile("/usr/bin/chromium")) return "/usr/bin/chromium";
    }
    throw new Error("Installing Chromium with apt-get failed; see the output above.");
  }
  throw new Error(
    "The browser tests need Chromium. Install it (Debian/Ubuntu: `sudo apt-get install chromium`) " +
      "or set CHROME_PATH to a Chromium or Chrome binary, then run `deno task test` again.",
  );
}

/** Flags that work headless as root on a machine with no outside network. */
const HEADLESS_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Fake camera and microphone, granted without a prompt. */
export const FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"];

/**
 * WebRTC between pages of one machine without any camera or microphone: loopback candidates
 * (only inside a loopback-only network namespace, see tests/run.ts) and sound without a click.
 * Chromium gathers loopback candidates only for a page granted camera or microphone access, so
 * contexts must grant it (`context.grantPermissions`) even though no device exists.
 */
export const WEBRTC_LOOPBACK_NO_DEVICES = [
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
];

/** As `WEBRTC_LOOPBACK_NO_DEVICES`, with a fake camera, microphone and screen. */
export const WEBRTC_LOOPBACK = [
  ...WEBRTC_LOOPBACK_NO_DEVICES,
  ...FAKE_MEDIA,
  "--auto-select-desktop-capture-source=Entire screen",
];

/** Launches headless Chromium with the flags above, plus `extraArgs` for one test's needs. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return await chromium.launch({
    executablePath: Deno.env.get("CHROME_PATH") ?? await findChromium(),
    args: [...HEADLESS_ARGS, ...extraArgs],
  });
}

/**
 * Launches headless Chromium as `launchBrowser` does, with a profile on disk in `userDataDir`
 * (one context: the browser's own), for what a private context keeps in memory and caps, such as
 * the origin-private file system.
 */
export async function launchPersistent(
  userDataDir: string,
  extraArgs: string[] = [],
): Promise<BrowserContext> {
  return await chromium.launchPersistentContext(userDataDir, {
    executablePath: Deno.env.get("CHROME_PATH") ?? await findChromium(),
    args: [...HEADLESS_ARGS, ...extraArgs],
  });
}

/** True inside a network namespace whose only interface is loopback, and loopback is up. */
export function onlyLoopback(): boolean {
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    return false;
  }
  return interfaces.length > 0 && interfaces.every((i) => i.name === "lo") &&
    interfaces.some((i) => i.address === "127.0.0.1");
}
