/**
 * The floor under the signaling bench's memory figure: a bare `deno serve` WebSocket echo server
 * with nothing of Mooz in it. Its RSS per connection, measured the same way as Mooz's, is what
 * Deno's HTTP upgrade and WebSocket cost before any application state.
 */
const sockets = new Set<WebSocket>();

export default {
  fetch(req: Request): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // Same readiness answer shape as the app's /healthz, so the bench's startup code serves both.
      return Response.json({ ok: true, isolate: "floor" });
    }
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 20 });
    sockets.add(socket);
    socket.onmessage = (e) => socket.send(e.data);
    socket.onclose = () => sockets.delete(socket);
    return response;
  },
} satisfies Deno.ServeDefaultExport;
