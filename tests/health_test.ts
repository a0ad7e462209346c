/**
 * The real server when its KV cannot be written: `/healthz` answers 503 with what failed and
 * what to check, a join fails with `internal`, `/metrics` counts the failures, the log says so
 * once; when KV can be written again, all of it recovers by itself (no restart).
 *
 * The server runs with its KV file on a small tmpfs of its own (`unshare -rm`: a user and mount
 * namespace, so no real root is needed); the test fills that disk through `/proc/PID/root` and
 * frees it again. The read-only case starts the server on a tmpfs mounted read-only and remounts
 * it writable while the server runs (through `nsenter`): remounting read-only while sqlite holds
 * the file open for writing fails with EBUSY, so "becomes read-only while running" cannot be made
 * here. Where `unshare -rm` (or, for the read-only case, `nsenter`) does not work, these tests
 * are skipped with a message. `deno task test` runs them inside `unshare -rn`, where both work.
 */
import assert from "node:assert/strict";
import { newRoomId } from "../signaling/room_id.ts";
import { type LiveServer, RawWebSocket, waitFor, withLiveServer } from "./live_server.ts";

const FILE = "tests/health_test.ts";
/**
 * Room for the server's KV during the test (a few hundred KiB), and below sqlite's automatic
 * checkpoint (a WAL of 1000 pages, 4 MiB): a checkpoint would let later writes reuse the WAL's
 * space, and a full disk would not stop them.
 */
const TMPFS_SIZE = "4m";

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false; // not installed
  }
}

/** Whether `unshare -rm` can mount a tmpfs here (Linux with unprivileged user namespaces). */
async function canMountTmpfs(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir({ prefix: "mooz-mount-probe-" });
  try {
    return await succeeds("unshare", [
      "-rm",
      "sh",
      "-c",
      `mount -t tmpfs -o size=1m tmpfs "$0"`,
      dir,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const CAN_MOUNT = await canMountTmpfs();
const CAN_ENTER = CAN_MOUNT && await succeeds("nsenter", ["--version"]);
if (!CAN_MOUNT) {
  console.warn(
    `${FILE}: SKIPPING the full-disk and read-only tests: they give the server a small disk of ` +
      "its own with `unshare -rm` (a user and mount namespace), which does not work here. " +
      "They run where unprivileged user namespaces are enabled (sysctl " +
      "kernel.unprivileged_userns_clone=1) or as root, also inside `deno task test`'s `unshare -rn`.",
  );
} else if (!CAN_ENTER) {
  console.warn(
    `${FILE}: SKIPPING the read-only test: it needs \`nsenter\` (util-linux) to remount the ` +
      "server's disk writable while it runs.",
  );
}

/** Runs the server with its KV directory on a tmpfs of its own, mounted read-only if asked. */
function onOwnTmpfs(opts: { readOnly?: boolean } = {}) {
  return (argv: string[], kvDir: string): string[] => [
    "unshare",
    "-rm",
    "sh",
    "-c",
    `mount -t tmpfs -o size=${TMPFS_SIZE} tmpfs "$0" && ` +
    (opts.readOnly ? `mount -o remount,ro "$0" && ` : "") +
    `exec "$@"`,
    kvDir,
    ...argv,
  ];
}

/** The server's KV directory as the server sees it (inside its mount namespace). */
function serverView(server: LiveServer): string {
  return `/proc/${server.pid()}/root${server.kvPath.replace(/\/[^/]+$/, "")}`;
}

/** Writes into the server's tmpfs until no byte more fits. */
async function fillDisk(server: LiveServer): Promise<string> {
  const path = `${serverView(server)}/filler`;
  const file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024).fill(1);
  try {
    while (true) await file.write(chunk);
  } catch (error) {
    if (!/No space left|os error 28/i.test(String(error))) throw error;
  } finally {
    file.close();
  }
  return path;
}

/** Joins a fresh socket to `room`: its welcome, or the error frame the server sent instead. */
async function join(
  server: LiveServer,
  room: string,
  name: string,
): Promise<{ socket: RawWebSocket; answer: Record<string, unknown> }> {
  const opened = await RawWebSocket.open(server.port, `/api/rooms/${room}/ws`);
  assert.ok(
    opened.ok,
    `upgrade refused: ${!opened.ok && opened.status} ${!opened.ok && opened.body}`,
  );
  const socket = opened.socket;
  await socket.sendJson({ type: "join", v: 1, name });
  const answer = await socket.waitFor((m) => m.type === "welcome" || m.type === "error", 15_000);
  return { socket, answer };
}

type HealthBody = { ok?: boolean; error?: string; reason?: string; step?: string };

async function healthz(server: LiveServer): Promise<{ status: number; body: HealthBody }> {
  return await server.healthz() as { status: number; body: HealthBody };
}

/** Polls /healthz (each check writes KV: gently) until it answers `status`; returns the body. */
async function healthzBecomes(server: LiveServer, status: number): Promise<HealthBody> {
  let last: { status: number; body: HealthBody } | undefined;
  await waitFor(`/healthz to answer ${status}`, async () => {
    last = await healthz(server);
    return last.status === status;
  }, { timeoutMs: 30_000, intervalMs: 200, describe: () => last });
  return last!.body;
}

function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line)).length;
}

Deno.test({
  name: "a full disk: /healthz says 503 and why, joins fail, metrics count it; freed, all recovers",
  ignore: !CAN_MOUNT,
  async fn() {
    // Heartbeats every 250 ms: several of them fail while the disk is full (and log nothing).
    const env = { MOOZ_HEARTBEAT_MS: "250" };
    await withLiveServer({ parallel: false, wrap: onOwnTmpfs(), env }, async (server) => {
      const room = newRoomId();
      const first = await join(server, room, "before");
      assert.equal(first.answer.type, "welcome", JSON.stringify(first.answer));
      const ok = await healthz(server);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.ok, true);

      const filler = await fillDisk(server);
      const failing = await healthzBecomes(server, 503);
      assert.equal(failing.ok, false);
      assert.equal(failing.step, "write");
      assert.equal(failing.error, "The room store cannot be written.");
      assert.match(failing.reason ?? "", /database or disk is full/);
      assert.match(failing.reason ?? "", /disk space/);
      assert.match(failing.reason ?? "", /MOOZ_KV/);

      // What a person sees meanwhile: the join is refused with a retryable error.
      const refused = await join(server, room, "during");
      assert.equal(refused.answer.type, "error", JSON.stringify(refused.answer));
      assert.equal(refused.answer.code, "internal");
      refused.socket.abort();

      let metrics = await server.metrics();
      await waitFor("/metrics to show KV failing, heartbeats included", async () => {
        metrics = await server.metrics();
        return metrics.sum("mooz_kv_ok") === 0 &&
          metrics.sum("mooz_kv_errors_total", { operation: "heartbeat" }) >= 3;
      }, { describe: () => metrics.text });
      assert.ok(metrics.sum("mooz_kv_errors_total", { operation: "health write" }) >= 1);
      assert.equal(metrics.sum("mooz_kv_errors_total", { operation: "join" }), 1);
      // Several checks failed, each a failed write: still one line in the log.
      assert.ok(
        (await healthz(server)).status === 503 && (await healthz(server)).status === 503,
      );
      assert.equal(count(server.output(), /^KV is failing/), 1, server.output());

      await Deno.remove(filler);
      const healthy = await healthzBecomes(server, 200);
      assert.equal(healthy.ok, true);
      const again = await join(server, room, "after");
      assert.equal(again.answer.type, "welcome", JSON.stringify(again.answer));
      // The member who was there all along kept its place, and hears of the newcomer.
      assert.deepEqual(
        (again.answer.members as { peer: string }[]).map((m) => m.peer).sort(),
        [first.answer.peer, again.answer.peer].sort(),
      );
      await first.socket.waitFor((m) =>
        m.type === "roster" &&
        (m.members as { peer: string }[]).some((p) => p.peer === again.answer.peer)
      );
      await waitFor("/metrics to show KV working", async () => {
        metrics = await server.metrics();
        return metrics.sum("mooz_kv_ok") === 1;
      }, { describe: () => metrics.text });
      assert.equal(metrics.sum("mooz_rooms"), 1);
      assert.equal(metrics.sum("mooz_participants"), 2, "before and after; during never joined");
      const output = server.output();
      assert.equal(count(output, /^KV is failing/), 1, output);
      assert.equal(count(output, /^KV works again/), 1, output);
      assert.equal(count(output, /Signaling (task|message .*) failed/), 0, output);

      first.socket.abort();
      again.socket.abort();
      await RawWebSocket.closeAll();
    });
  },
});

Deno.test({
  name: "a read-only disk: /healthz says 503 and why; made writable, the server recovers by itself",
  ignore: !CAN_ENTER,
  async fn() {
    await withLiveServer(
      { parallel: false, wrap: onOwnTmpfs({ readOnly: true }), awaitHealthy: false },
      async (server) => {
        const failing = await healthzBecomes(server, 503);
        assert.equal(failing.step, "open");
        assert.equal(failing.error, "The room store cannot be opened.");
        assert.match(failing.reason ?? "", /unable to open database file/);
        assert.match(failing.reason ?? "", /read-only mount/);
        assert.equal((await healthz(server)).status, 503);
        const metrics = await fetch(`${server.origin}/metrics`);
        assert.equal(metrics.status, 503);
        assert.match(await metrics.text(), /see \/healthz/);

        const kvDir = server.kvPath.replace(/\/[^/]+$/, "");
        const remount = await new Deno.Command("nsenter", {
          args: [
            "-t",
            String(server.pid()),
            "-U",
            "-m",
            "--preserve-credentials",
            "mount",
            "-o",
            "remount,rw",
            kvDir,
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(remount.success, new TextDecoder().decode(remount.stderr));

        assert.equal((await healthzBecomes(server, 200)).ok, true);
        const joined = await join(server, newRoomId(), "after");
        assert.equal(joined.answer.type, "welcome", JSON.stringify(joined.answer));
        const output = server.output();
        assert.equal(count(output, /^KV is failing/), 1, output);
        assert.equal(count(output, /^KV works again/), 1, output);
        joined.socket.abort();
        await RawWebSocket.closeAll();
      },
    );
  },
});
