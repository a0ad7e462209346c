import assert from "node:assert/strict";
import { NoDelaySocket } from "./nodelay_socket.ts";

/** An echo server on a real Deno WebSocket, answering each text frame with what `reply` says. */
function echoServer(reply: (text: string) => string[]) {
  const closes: { code: number; reason: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => reply(e.data).forEach((t) => socket.send(t));
    socket.onclose = (e) => closes.push({ code: e.code, reason: e.reason });
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/ws`, closes, server };
}

Deno.test("frames of every length class arrive whole and in order, both ways", async () => {
  const { url, server } = echoServer((t) => [t, t.toUpperCase()]);
  const ws = new NoDelaySocket(url);
  await new Promise<void>((r) => (ws.onopen = r));
  const sent = [0, 1, 125, 126, 65_535, 65_536, 200_000].map((n) => "é".repeat(n / 2) + "a");
  const got: string[] = [];
  const all = new Promise<void>((r) => {
    ws.onmessage = (e) => got.push(e.data) === sent.length * 2 && r();
  });
  for (const text of sent) ws.send(text);
  await all;
  assert.deepEqual(got, sent.flatMap((t) => [t, t.toUpperCase()]));
  const closed = new Promise((r) => (ws.onclose = r));
  ws.close();
  assert.equal((await closed as { code: number }).code, 1000);
  await server.shutdown();
});

Deno.test("a close from either side carries its code and reason", async () => {
  const { url, closes, server } = echoServer(() => []);
  const ws = new NoDelaySocket(url);
  await new Promise<void>((r) => (ws.onopen = r));
  const closed = new Promise<{ code: number; reason: string }>((r) => (ws.onclose = r));
  ws.close(4000, "done here");
  assert.deepEqual(await closed, { code: 4000, reason: "done here" });
  assert.equal(ws.readyState, NoDelaySocket.CLOSED);
  await server.shutdown();
  assert.deepEqual(closes, [{ code: 4000, reason: "done here" }]);

  // The server closes: the client answers and reports the server's code.
  const s2 = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => socket.close(4001, "go away");
    return response;
  });
  const ws2 = new NoDelaySocket(`ws://127.0.0.1:${s2.addr.port}/`);
  const closed2 = new Promise<{ code: number; reason: string }>((r) => (ws2.onclose = r));
  assert.deepEqual(await closed2, { code: 4001, reason: "go away" });
  await s2.shutdown();
});

Deno.test("a refused upgrade closes with the server's status line", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("no", { status: 404 }),
  );
  const ws = new NoDelaySocket(`ws://127.0.0.1:${server.addr.port}/`);
  const closed = await new Promise<{ code: number; reason: string }>((r) => (ws.onclose = r));
  assert.equal(closed.code, 1006);
  assert.match(closed.reason, /^HTTP\/1\.1 404/);
  await server.shutdown();
});
