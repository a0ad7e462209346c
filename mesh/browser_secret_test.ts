/**
 * The per-meeting browser secret: made once and kept, valid for the server, one per room, and
 * still stable for the page when storage is missing, throws, or forgets what it is given.
 */
import assert from "node:assert/strict";
import { SECRET_PATTERN } from "../signaling/protocol.ts";
import { browserSecret, SECRET_BYTES, secretKey } from "./browser_secret.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const OTHER_ROOM = "m7vt-2hdw-k3fq-a4ze-9xmp";

/** A Storage that keeps items in a map, as localStorage does. */
function memoryStorage(): Pick<Storage, "getItem" | "setItem"> & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
}

Deno.test("made on first use, stored under mooz.secret.<room>, the same after", () => {
  const storage = memoryStorage();
  const secret = browserSecret(ROOM, storage);
  assert.match(secret, SECRET_PATTERN);
  assert.equal(secret.length, Math.ceil(SECRET_BYTES * 4 / 3), "32 bytes, base64url");
  assert.equal(storage.items.get(`mooz.secret.${ROOM}`), secret);
  assert.equal(secretKey(ROOM), `mooz.secret.${ROOM}`);
  assert.equal(browserSecret(ROOM, storage), secret);
});

Deno.test("one secret per room, each random", () => {
  const storage = memoryStorage();
  const a = browserSecret(ROOM, storage);
  const b = browserSecret(OTHER_ROOM, storage);
  assert.notEqual(a, b);
  assert.notEqual(browserSecret(ROOM, memoryStorage()), a, "another browser, another secret");
});

Deno.test("a damaged stored value is replaced with a valid secret", () => {
  for (const damaged of ["", "short", "x".repeat(100), "not base64url!!!!!!!!!!!!!!"]) {
    const storage = memoryStorage();
    storage.items.set(secretKey(ROOM), damaged);
    const secret = browserSecret(ROOM, storage);
    assert.match(secret, SECRET_PATTERN);
    assert.equal(storage.items.get(secretKey(ROOM)), secret);
  }
});

Deno.test("without storage, or with one that throws or forgets, the page keeps one secret", () => {
  const throwing = {
    getItem: (): string | null => {
      throw new DOMException("blocked", "SecurityError");
    },
    setItem: () => {
      throw new DOMException("blocked", "SecurityError");
    },
  };
  const forgetful = { getItem: () => null, setItem: () => {} };
  const full = {
    getItem: () => null,
    setItem: () => {
      throw new DOMException("full", "QuotaExceededError");
    },
  };
  const rooms = [
    "aaaa-aaaa-aaaa-aaaa-aaaa",
    "bbbb-bbbb-bbbb-bbbb-bbbb",
    "cccc-cccc-cccc-cccc-cccc",
  ];
  const stores = [throwing, forgetful, full];
  for (const [i, storage] of stores.entries()) {
    const secret = browserSecret(rooms[i], storage);
    assert.match(secret, SECRET_PATTERN);
    assert.equal(browserSecret(rooms[i], storage), secret, `stable with storage ${i}`);
  }
  const none = browserSecret("dddd-dddd-dddd-dddd-dddd", null);
  assert.equal(browserSecret("dddd-dddd-dddd-dddd-dddd", null), none);
});

Deno.test("the default storage is used when there is one (Deno: localStorage)", () => {
  // Deno has a localStorage per main module; the default argument reads it, or memory.
  const room = "eeee-eeee-eeee-eeee-eeee";
  const secret = browserSecret(room);
  assert.match(secret, SECRET_PATTERN);
  assert.equal(browserSecret(room), secret);
  try {
    localStorage.removeItem(secretKey(room));
  } catch {
    // No storage here: the secret lived in memory.
  }
});
