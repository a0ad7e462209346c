/**
 * A real coturn TURN server for tests, on 127.0.0.1 only, with time-limited credentials
 * (`use-auth-secret`), a random free port and a private temporary folder:
 *
 *   await using turn = await startCoturn();
 *   // turn.url = "turn:127.0.0.1:PORT?transport=udp", turn.secret = its static-auth-secret
 *
 * Installs Debian's `coturn` package when `turnserver` is missing and we are root; otherwise says
 * how to install it.
 */

import { isFile, run } from "./chromium.ts";

const CANDIDATES = ["/usr/bin/turnserver", "/usr/local/bin/turnserver", "/usr/sbin/turnserver"];
export const REALM = "mooz.test";

async function findInPath(): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const path of [...CANDIDATES, ...dirs.map((d) => `${d}/turnserver`)]) {
    if (await isFile(path)) return path;
  }
}

/** The `turnserver` binary; installs Debian's coturn package as root when it is missing. */
export async function findTurnserver(): Promise<string> {
  const found = await findInPath();
  if (found) return found;
  if (Deno.uid() === 0) {
    console.log("coturn is missing: installing Debian's coturn package (apt-get)...");
    const install = ["install", "-y", "-qq", "coturn"];
    // A fresh machine may have no package lists yet: update only when the first try fails.
    const ok = await run("apt-get", install) ||
      (await run("apt-get", ["update", "-qq"]) && await run("apt-get", install));
    const path = ok ? await findInPath() : undefined;
    if (path) {
      console.log(
        "coturn installed. On a systemd machine Debian also enables its coturn service; " +
          "`systemctl disable --now coturn` if you do not want a system TURN server.",
      );
      return path;
    }
    throw new Error("Installing coturn with apt-get failed; see the output above.");
  }
  throw new Error(
    "The TURN tests need coturn's turnserver. Install it (Debian/Ubuntu: " +
      "`sudo apt-get install coturn`) and run the tests again.",
  );
}

export interface TurnServer extends AsyncDisposable {
  /** `turn:127.0.0.1:PORT?transport=udp` */
  url: string;
  /** The `static-auth-secret` credentials must be derived from. */
  secret: string;
  realm: string;
  port: number;
  /** coturn's log so far (verbose: one line per TURN request, with user and result). */
  log(): Promise<string>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its folder; idempotent. */
  stop(): Promise<void>;
}

function freeTcpPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/**
 * Sends a STUN Binding request (RFC 5389) over TCP and resolves true when a Binding success
 * response with the same transaction id comes back within `timeoutMs`.
 */
export async function stunBindingOverTcp(port: number, timeoutMs = 1000): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const request = new Uint8Array(20);
    const view = new DataView(request.buffer);
    view.setUint16(0, 0x0001); // Binding request
    view.setUint16(2, 0); // no attributes
    view.setUint32(4, 0x2112a442); // magic cookie
    crypto.getRandomValues(request.subarray(8));
    await conn.write(request);
    const buf = new Uint8Array(1024);
    let got = 0;
    while (got < 20) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) return false;
      got += n;
    }
    const type = new DataView(buf.buffer).getUint16(0);
    return type === 0x0101 && buf.subarray(8, 20).every((b, i) => b === request[8 + i]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the timeout
    }
  }
}

/**
 * The flags, chosen from `turnserver -h` so that nothing depends on root or on system files:
 * `-n` ignores /etc/turnserver.conf; the pid file, log and SQLite user db (otherwise
 * /var/run/turnserver.pid and /var/lib/turn/turndb) go in our own folder; no CLI (a fixed TCP port
 * 5766 that parallel servers would fight over), no TLS/DTLS (no certificates), no RFC 5780
 * (it would want a second port); everything on 127.0.0.1, and loopback peers allowed because the
 * test's browsers are on loopback.
 */
function turnserverArgs(port: number, secret: string, dir: string): string[] {
  return [
    "-n",
    "--verbose",
    "--listening-ip=127.0.0.1",
    "--relay-ip=127.0.0.1",
    `--listening-port=${port}`,
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    `--realm=${REALM}`,
    "--fingerprint",
    "--no-cli",
    "--no-tls",
    "--no-dtls",
    "--no-rfc5780",
    "--allow-loopback-peers",
    `--log-file=${dir}/turnserver.log`,
    "--simple-log",
    "--no-stdout-log",
    `--pidfile=${dir}/turnserver.pid`,
    `--userdb=${dir}/turndb`,
  ];
}

async function startOnce(
  binary: string,
  secret: string,
  deadline: number,
): Promise<TurnServer | "port-taken"> {
  const dir = await Deno.makeTempDir({ prefix: "mooz-coturn-" });
  const logFile = `${dir}/turnserver.log`;
  const port = freeTcpPort();
  const child = new Deno.Command(binary, {
    args: turnserverArgs(port, secret, dir),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // it ended on its own
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // ended meanwhile
          }
        }, 5000);
        await status;
        clearTimeout(timer);
      }
      await status;
      await stderrDone;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();

  const server: TurnServer = {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    realm: REALM,
    port,
    log: () => readText(logFile),
    stop,
    [Symbol.asyncDispose]: stop,
  };

  // Ready = the UDP listener is bound (the log says so) and the server answers STUN over TCP.
  const udpReady = new RegExp(`UDP listener opened on ?: 127\\.0\\.0\\.1:${port}\\b`);
  const bindFailed = new RegExp(`Cannot bind .*127\\.0\\.0\\.1:${port}\\b`);
  while (Date.now() < deadline) {
    if (exited) break;
    const log = await readText(logFile);
    if (bindFailed.test(log)) {
      await stop();
      return "port-taken";
    }
    if (udpReady.test(log) && await stunBindingOverTcp(port)) return server;
    await delay(50);
  }
  const log = await readText(logFile);
  await stop();
  const { code } = await status;
  throw new Error(
    `turnserver did not become ready on 127.0.0.1:${port} ` +
      (exited ? `(it exited with code ${code})` : "in time") +
      `.\n--- stderr ---\n${stderr.slice(-2000)}\n--- log ---\n${log.slice(-4000)}`,
  );
}

/** Starts coturn on 127.0.0.1 and a free port; waits (at most `timeoutMs`) until it answers. */
export async function startCoturn(
  options: { secret?: string; timeoutMs?: number } = {},
): Promise<TurnServer> {
  const binary = await findTurnserver();
  const secret = options.secret ?? randomSecret();
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  // The port is free for TCP when chosen; if its UDP twin is taken, try another one.
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = await startOnce(binary, secret, deadline);
    if (server !== "port-taken") return server;
  }
  throw new Error("turnserver found no free port on 127.0.0.1 in 5 attempts.");
}
