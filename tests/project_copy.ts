/**
 * Test helper: a copy of this checkout in a temporary folder, for tests that run the real tasks
 * and the production server the way a deploy does (`deno task build`, then `deno serve`) without
 * touching the checkout's own `_fresh/` and `fresh.gen.ts`, which other runs may be using.
 *
 * Everything is copied except what is not source (`_fresh/`, `.git`, the tool and bench folders,
 * KV files); `node_modules` is a symlink to the checkout's, so nothing is installed.
 */
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Top-level entries that are not part of the sources a deploy gets. */
const SKIPPED = new Set(["_fresh", ".git", ".tools", ".bench", "node_modules"]);

/** A temporary copy of the checkout; `await using` removes it. */
export interface ProjectCopy extends AsyncDisposable {
  /** Absolute path of the copy. */
  root: string;
}

/** Copies the checkout's sources into a new temporary folder. */
export async function copyProject(): Promise<ProjectCopy> {
  const root = await Deno.makeTempDir({ prefix: "mooz-copy-" });
  try {
    for await (const entry of Deno.readDir(ROOT)) {
      if (SKIPPED.has(entry.name) || /\.sqlite/.test(entry.name)) continue;
      await copy(join(ROOT, entry.name), join(root, entry.name));
    }
    await Deno.symlink(join(ROOT, "node_modules"), join(root, "node_modules"));
  } catch (e) {
    await Deno.remove(root, { recursive: true });
    throw e;
  }
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

async function copy(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  if (info.isSymlink) {
    await Deno.symlink(await Deno.readLink(from), to);
  } else if (info.isDirectory) {
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      await copy(join(from, entry.name), join(to, entry.name));
    }
  } else if (info.isFile) {
    await Deno.copyFile(from, to);
  }
}
