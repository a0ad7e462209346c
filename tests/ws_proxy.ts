/**
 * A man in the middle for the end-to-end tests: an HTTP and WebSocket proxy in front of a live
 * server that records every signaling frame in both directions and lets a test rewrite, drop,
 * replay or inject frames on their way to the browsers. Pages load from the proxy's origin, so
 * their signaling sockets go through it.
 */

/** A frame the proxy passed, rewrote or dropped. */
export interface ProxiedFrame {
  /** Which socket pair (one per browser connection), in the order they opened. */
  conn: number;
  dir: "to-server" | "to-client";
  text: string;
}

/** What a test can do to a frame on its way to a browser: pass it, change it, add some, or drop it. */
export type ClientFrameHook = (text: string, conn: ProxyConnection) => string | string[] | null;

/** One browser's socket through the proxy. */
export interface ProxyConnection {
  readonly id: number;
  /** Sends a frame to the browser as if the server had (an injection). */
  toClient(text: string): void;
}

export interface WsProxy {
  readonly origin: string;
  /** Every frame, in order. */
  readonly frames: ProxiedFrame[];
  /** Every HTTP request line and header block the proxy forwarded. */
  readonly requests: string[];
  /** Replaces what happens to frames towards the browsers (default: passed as they are). */
  onClientFrame: ClientFrameHook | null;
  close(): Promise<void>;
}

/**
 * Starts the proxy on a free 127.0.0.1 port, in front of `target` (`http://127.0.0.1:port`).
 *
 * @example
 * ```ts
 * const proxy = startWsProxy(server.origin);
 * proxy.onClientFrame = (text) => text.includes('"type":"signal"') ? null : text; // drop signals
 * ```
 */
export function startWsProxy(target: string): WsProxy {
  const frames: ProxiedFrame[] = [];
  const requests: string[] = [];
  const sockets = new Set<WebSocket>();
  const closed = new Map<WebSocket, Promise<void>>();
  const track = (s: WebSocket) => {
    sockets.add(s);
    closed.set(
      s,
      new Promise((resolve) => s.addEventListener("close", () => resolve(), { once: true })),
    );
  };
  let next = 0;
  const proxy: WsProxy = {
    origin: "",
    frames,
    requests,
    onClientFrame: null,
    close: async () => {
      for (const s of sockets) {
        try {
          s.close();
        } catch { /* closing already */ }
      }
      // The test's resource checks want every socket closed, not closing.
      await Promise.all([...closed.values()]);
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    requests.push(
      `${req.method} ${url.pathname}${url.search}\n${
        [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n")
      }`,
    );
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return fetch(new URL(url.pathname + url.search, target), {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: "manual",
      });
    }
    const { socket: client, response } = Deno.upgradeWebSocket(req);
    const upstream = new WebSocket(
      new URL(url.pathname, target.replace(/^http/, "ws")).href,
    );
    track(client);
    track(upstream);
    const id = next++;
    const conn: ProxyConnection = {
      id,
      toClient(text) {
        frames.push({ conn: id, dir: "to-client", text });
        if (client.readyState === WebSocket.OPEN) client.send(text);
      },
    };
    const early: string[] = [];
    client.onmessage = (e) => {
      const text = String(e.data);
      frames.push({ conn: id, dir: "to-server", text });
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else early.push(text);
    };
    upstream.onopen = () => early.splice(0).forEach((t) => upstream.send(t));
    upstream.onmessage = (e) => {
      const text = String(e.data);
      const out = proxy.onClientFrame ? proxy.onClientFrame(text, conn) : text;
      if (out === null) return;
      for (const t of Array.isArray(out) ? out : [out]) conn.toClient(t);
    };
    const closeBoth = () => {
      for (const s of [client, upstream]) {
        if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
          try {
            s.close();
          } catch { /* closing already */ }
        }
        sockets.delete(s);
      }
    };
    client.onclose = closeBoth;
    upstream.onclose = closeBoth;
    upstream.onerror = closeBoth;
    return response;
  });
  (proxy as { origin: string }).origin = `http://127.0.0.1:${server.addr.port}`;
  return proxy;
}
