/**
 * Chat's engine part on real feature hosts joined by a TestMesh (in-memory links carrying the
 * exact strings a data channel would): who a message is from, history for newcomers, unread.
 */
import assert from "node:assert/strict";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import { chat } from "./chat.ts";
import { type ChatMessage, MAX_CHAT_LENGTH, MAX_HISTORY } from "./wire.ts";

const frame = (body: unknown) => JSON.stringify({ t: "chat/message", b: body });
/** TestMesh names everyone after their peer id, capitalized. */
const nameOf = (peer: PeerId) => peer.charAt(0).toUpperCase() + peer.slice(1);
const view = (messages: readonly ChatMessage[]) =>
  messages.map((m) => `${m.id} ${m.from} ${m.name}: ${m.text}`);

/** A meeting of `peers` with chat, every link open and settled. */
async function meetingOf(...peers: PeerId[]) {
  const mesh = new TestMesh(peers);
  for (const peer of peers) mesh.host(peer).create(chat);
  mesh.connectAll();
  await mesh.flush();
  return { mesh, of: (peer: PeerId) => mesh.host(peer).get(chat) };
}

/** `peer` joins a meeting in progress: created first, then linked to everyone. */
async function join(mesh: TestMesh, peer: PeerId) {
  const sentBefore = mesh.wire.length;
  mesh.add(peer).create(chat);
  mesh.connectAll();
  await mesh.flush();
  return mesh.wire.slice(sentBefore);
}

Deno.test("a message reaches everyone, from the link's peer, named as the roster names them", async () => {
  const { mesh, of } = await meetingOf("ada", "bob", "cid");
  const before = Date.now();
  assert.equal(of("ada").send("  hello\neveryone  "), true);
  await mesh.flush();
  for (const peer of ["ada", "bob", "cid"]) {
    const [m, ...rest] = of(peer).messages.value;
    assert.deepEqual(rest, [], peer);
    assert.deepEqual(
      { id: m.id, from: m.from, name: m.name, text: m.text },
      { id: "ada:1", from: "ada", name: nameOf("ada"), text: "hello\neveryone" },
      peer,
    );
    assert.ok(m.sentAt >= before && m.sentAt <= Date.now());
  }
  // On the wire: only seq, text and time; who sent it is the link's business.
  const sent = mesh.wire.filter((w) => w.from === "ada" && w.text.includes("chat/message"));
  assert.equal(sent.length, 2);
  for (const w of sent) {
    assert.deepEqual(Object.keys(JSON.parse(w.text).b), ["seq", "text", "sentAt"]);
  }
});

Deno.test("a message claiming another sender is shown as from the link's peer", async () => {
  const { mesh, of } = await meetingOf("ada", "bob", "eve");
  mesh.inject(
    "eve",
    "bob",
    frame({ seq: 1, text: "I am Ada", sentAt: 5, id: "ada:9", from: "ada", name: "Ada" }),
  );
  assert.deepEqual(view(of("bob").messages.value), ["eve:1 eve Eve: I am Ada"]);
  // Eve cannot overwrite Ada's messages either: ids are made from the link's peer.
  of("ada").send("real");
  await mesh.flush();
  mesh.inject("eve", "bob", frame({ seq: 1, text: "replaced?", sentAt: 6, id: "ada:1" }));
  assert.deepEqual(view(of("bob").messages.value), [
    "eve:1 eve Eve: I am Ada",
    "ada:1 ada Ada: real",
  ]);
});

Deno.test("a message from a peer outside the roster is not shown", async () => {
  const { mesh, of } = await meetingOf("ada", "bob");
  mesh.inject("mallory", "bob", frame({ seq: 1, text: "hi", sentAt: 1 }));
  assert.deepEqual(of("bob").messages.value, []);
});

Deno.test("invalid live messages never reach the log", async () => {
  const { mesh, of } = await meetingOf("ada", "eve");
  const host = mesh.host("ada");
  const invalid = host.dropped.invalid;
  for (
    const body of [
      { seq: 1, text: "", sentAt: 1 },
      { seq: 1, text: "x".repeat(MAX_CHAT_LENGTH + 1), sentAt: 1 },
      { seq: -1, text: "hi", sentAt: 1 },
      { seq: 1, text: "bell\u0007", sentAt: 1 },
      { seq: 1, text: "hi", sentAt: -1 },
      { text: "hi", sentAt: 1 },
      null,
    ]
  ) mesh.inject("eve", "ada", frame(body));
  assert.deepEqual(of("ada").messages.value, []);
  assert.equal(host.dropped.invalid - invalid, 7);
});

Deno.test("a newcomer gets the history once, from one member, without duplicates", async () => {
  const { mesh, of } = await meetingOf("ada", "bob");
  of("ada").send("one");
  of("bob").send("two");
  of("ada").send("three");
  await mesh.flush();
  const expected = view(of("ada").messages.value);
  assert.equal(expected.length, 3);
  assert.deepEqual(view(of("bob").messages.value), expected);

  const wire = await join(mesh, "cid");
  assert.deepEqual(view(of("cid").messages.value), expected);
  const requests = wire.filter((w) => w.from === "cid" && w.text.includes("core/snapshot-request"));
  assert.equal(requests.length, 1, "the newcomer asks one member only");
  const answers = wire.filter((w) => w.to === "cid" && w.text.includes('"t":"core/snapshot"'));
  assert.equal(answers.length, 1, "and only that member answers");
  assert.equal(answers[0].from, requests[0].to);

  // Another member joining later asks too, but the first newcomer is not asked again.
  const later = await join(mesh, "dan");
  assert.deepEqual(view(of("dan").messages.value), expected);
  assert.equal(later.filter((w) => w.text.includes("core/snapshot-request")).length, 1);
  assert.deepEqual(view(of("cid").messages.value), expected);
});

Deno.test("a message that arrives both live and in the history is shown once", async () => {
  const { mesh, of } = await meetingOf("ada", "bob");
  of("ada").send("before");
  await mesh.flush();
  mesh.add("cid").create(chat);
  mesh.connect("ada", "cid"); // cid asks ada for the history...
  of("ada").send("during"); // ...and hears this live before the history arrives
  await mesh.flush();
  mesh.connect("bob", "cid");
  await mesh.flush();
  assert.deepEqual(view(of("cid").messages.value), [
    "ada:1 ada Ada: before",
    "ada:2 ada Ada: during",
  ]);
});

Deno.test("an unasked or second history is refused", async () => {
  const { mesh, of } = await meetingOf("ada", "bob", "eve");
  const forged: ChatMessage = { id: "ada:7", from: "ada", name: "Ada", text: "forged", sentAt: 1 };
  const snapshot = JSON.stringify({ t: "core/snapshot", b: { f: "chat", b: [forged] } });
  const unsolicited = mesh.host("bob").dropped.unsolicited;
  mesh.inject("eve", "bob", snapshot);
  mesh.inject("ada", "bob", snapshot); // bob already has its history: asked once per meeting
  assert.deepEqual(of("bob").messages.value, []);
  assert.equal(mesh.host("bob").dropped.unsolicited - unsolicited, 2);
});

Deno.test("send refuses empty and too-long text and sends nothing for it", async () => {
  const { mesh, of } = await meetingOf("ada", "bob");
  const ada = of("ada");
  const wired = mesh.wire.length;
  for (const text of ["", "   ", " \n\t\r ", "\u0000\u0007", "x".repeat(MAX_CHAT_LENGTH + 1)]) {
    assert.equal(ada.send(text), false, JSON.stringify(text.slice(0, 10)));
  }
  assert.equal(ada.send("😀".repeat(MAX_CHAT_LENGTH + 1)), false);
  await mesh.flush();
  assert.equal(mesh.wire.length, wired);
  assert.deepEqual(ada.messages.value, []);
  // At the limit, in characters, it goes; controls are removed first, as peers would refuse them.
  assert.equal(ada.send("😀".repeat(MAX_CHAT_LENGTH)), true);
  assert.equal(ada.send("a\u0000b\u0007c"), true);
  await mesh.flush();
  assert.deepEqual(of("bob").messages.value.map((m) => m.text), [
    "😀".repeat(MAX_CHAT_LENGTH),
    "abc",
  ]);
});

Deno.test("unread counts only others' messages, and markRead resets it", async () => {
  const { mesh, of } = await meetingOf("ada", "bob");
  const [ada, bob] = [of("ada"), of("bob")];
  ada.send("mine");
  ada.send("mine too");
  await mesh.flush();
  assert.equal(ada.unread.value, 0, "our own messages are never unread");
  assert.equal(bob.unread.value, 2);
  bob.send("reply");
  await mesh.flush();
  assert.equal(bob.unread.value, 2);
  assert.equal(ada.unread.value, 1);
  bob.markRead();
  assert.equal(bob.unread.value, 0);
  ada.send("more");
  await mesh.flush();
  assert.equal(bob.unread.value, 1);
  ada.markRead();
  assert.equal(ada.unread.value, 0);
});

Deno.test("unread counts a message whose sender's clock is behind ours", async () => {
  // Messages are ordered by the sender's clock; one from a slow clock lands among read ones.
  const { mesh, of } = await meetingOf("ada", "bob", "cid");
  const ada = of("ada");
  of("bob").send("hi");
  await mesh.flush();
  ada.send("mine");
  ada.markRead();
  assert.equal(ada.unread.value, 0);
  mesh.inject("cid", "ada", frame({ seq: 1, text: "from the past", sentAt: 1 }));
  assert.equal(ada.messages.value[0].text, "from the past");
  assert.equal(ada.unread.value, 1);
});

Deno.test("unread keeps counting once the log is full", async () => {
  const { mesh, of } = await meetingOf("ada");
  const ada = of("ada");
  // Ada fills her log while alone (nothing is sent); bob joins and gets it as history.
  for (let i = 0; i < MAX_HISTORY; i++) assert.equal(ada.send(`message ${i}`), true);
  await join(mesh, "bob");
  const bob = of("bob");
  assert.equal(bob.messages.value.length, MAX_HISTORY);
  assert.equal(bob.unread.value, MAX_HISTORY, "history from others is unread");
  bob.markRead();
  assert.equal(bob.unread.value, 0);
  ada.send("one more");
  await mesh.flush();
  assert.equal(bob.messages.value.length, MAX_HISTORY);
  assert.equal(bob.messages.value.at(-1)?.text, "one more");
  assert.equal(bob.unread.value, 1);
});
