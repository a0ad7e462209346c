/**
 * Runs a command in the project's root with its output captured, for the steps before tests and
 * screenshots (installs, cache fills): the output matters only when the command fails.
 *
 * @example
 * ```ts
 * const { ok, output } = await quiet(Deno.execPath(), ["install", "--quiet"]);
 * if (!ok) console.error(output);
 * ```
 */
const ROOT = new URL("..", import.meta.url).pathname;

/** Runs `cmd` with `args` quietly; `ok` and everything it printed. */
export async function quiet(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const decoder = new TextDecoder();
    return { ok: out.success, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
  } catch (e) {
    return { ok: false, output: (e as Error).message };
  }
}
