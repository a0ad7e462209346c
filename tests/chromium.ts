/**
 * Finds the Chromium the browser tests drive, installing Debian's package when it is missing and
 * we are root. Never downloads a browser build of its own.
 */

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command(cmd, {
    args,
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
