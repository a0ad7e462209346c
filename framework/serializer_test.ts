import assert from "node:assert/strict";
import { computed, effect, Signal, signal } from "@preact/signals";
import { h } from "preact";
import { deserialize, serialize, SerializeError } from "./serializer.ts";

const roundTrip = <T>(value: T): T => deserialize(serialize(value)) as T;

Deno.test("format: flat entry array with indices, sentinels and dedup", () => {
  assert.equal(
    serialize({ a: "x", b: ["x", undefined, NaN, -0], c: 1n }),
    '[{"a":1,"b":2,"c":3},"x",[1,-1,-2,-5],["BigInt","1"]]',
  );
  assert.equal(serialize(undefined), "-1");
  assert.equal(serialize("hi"), '["hi"]');
});

Deno.test("round trips primitives and special numbers", () => {
  for (
    const v of [null, true, false, 0, 1.5, -7, 1e300, "", "héllo ☃ 🎉", "-1"]
  ) {
    assert.equal(roundTrip(v), v);
  }
  assert.ok(Number.isNaN(roundTrip(NaN)));
  assert.equal(roundTrip(Infinity), Infinity);
  assert.equal(roundTrip(-Infinity), -Infinity);
  assert.ok(Object.is(roundTrip(-0), -0));
  assert.ok(Object.is(roundTrip([0])[0], 0));
  assert.equal(roundTrip(undefined), undefined);
});

Deno.test("round trips undefined in objects and arrays, sparse holes become undefined", () => {
  const revived = roundTrip({ a: undefined, list: [1, undefined, 3] });
  assert.ok(Object.hasOwn(revived, "a"));
  assert.deepEqual(revived, { a: undefined, list: [1, undefined, 3] });

  // deno-lint-ignore no-sparse-arrays
  const sparse = roundTrip([1, , 3]);
  assert.equal(sparse.length, 3);
  assert.ok(1 in sparse, "hole is revived as an explicit undefined");
  assert.equal(sparse[1], undefined);
});

Deno.test("round trips BigInt", () => {
  for (const v of [0n, -123n, 2n ** 100n]) assert.equal(roundTrip(v), v);
  assert.deepEqual(roundTrip({ big: [5n, 5n] }), { big: [5n, 5n] });
});

Deno.test("round trips plain, nested and null-prototype objects and arrays", () => {
  const value = {
    n: 1,
    s: "two",
    nested: { deep: [[], {}, [1, [2, [3]]]] },
    "odd key": true,
    "": 0,
  };
  assert.deepEqual(roundTrip(value), value);

  const bare = Object.assign(Object.create(null), { x: 1, y: [2] });
  const revived = roundTrip(bare) as Record<string, unknown>;
  assert.equal(revived.x, 1);
  assert.deepEqual(revived.y, [2]);
});

Deno.test("round trips Date (including invalid), RegExp and URL", () => {
  const date = new Date("2024-02-29T12:34:56.789Z");
  const revived = roundTrip({
    date,
    bad: new Date(NaN),
    re: /a+\/b<\/script>/giu,
    url: new URL("https://example.com/a b?q=1#h"),
  });
  assert.ok(revived.date instanceof Date);
  assert.equal(revived.date.getTime(), date.getTime());
  assert.ok(revived.bad instanceof Date);
  assert.ok(Number.isNaN(revived.bad.getTime()));
  assert.ok(revived.re instanceof RegExp);
  assert.equal(revived.re.source, "a+\\/b<\\/script>");
  assert.equal(revived.re.flags, "giu");
  assert.ok(revived.url instanceof URL);
  assert.equal(revived.url.href, "https://example.com/a%20b?q=1#h");
});

Deno.test("round trips Map and Set, including object keys", () => {
  const key = { id: 1 };
  const map = new Map<unknown, unknown>([["a", 1], [key, "obj"], [
    2,
    undefined,
  ]]);
  const set = new Set<unknown>([1, "two", key]);
  const revived = roundTrip({ map, set });
  assert.deepEqual(revived, { map, set });
  const [revivedKey] = [...revived.map.keys()].filter((k) => typeof k === "object");
  assert.ok(
    revived.set.has(revivedKey),
    "the object key is shared between Map and Set",
  );
});

Deno.test("signals serialize their value and revive as signals; computed becomes its value", () => {
  const count = signal(3);
  const doubled = computed(() => count.value * 2);
  const revived = roundTrip({
    count,
    doubled,
    nested: signal({ list: [1, 2] }),
  });
  assert.ok(revived.count instanceof Signal);
  assert.equal(revived.count.value, 3);
  assert.ok(revived.doubled instanceof Signal);
  assert.equal(revived.doubled.value, 6);
  const writable = revived.doubled as unknown as Signal<number>;
  writable.value = 10; // a revived computed is a plain, writable signal
  assert.equal(writable.value, 10);
  assert.deepEqual(revived.nested.value, { list: [1, 2] });
});

Deno.test("serializing reads signals without subscribing", () => {
  const s = signal(1);
  let runs = 0;
  const dispose = effect(() => {
    runs++;
    serialize(s);
  });
  s.value = 2;
  dispose();
  assert.equal(runs, 1);
});

Deno.test("one signal passed to two islands revives as ONE signal", () => {
  const count = signal(1);
  const payload = [["Counter", { count }], ["Display", { count, label: "x" }]];
  const text = serialize(payload);
  assert.equal(text.match(/"Signal"/g)?.length, 1, "serialized once");

  const revived = deserialize(text) as [string, { count: Signal<number> }][];
  const a = revived[0][1].count;
  const b = revived[1][1].count;
  assert.ok(a instanceof Signal);
  assert.equal(a, b);
  const seen: number[] = [];
  const dispose = effect(() => void seen.push(b.value));
  a.value = 5;
  dispose();
  assert.equal(b.value, 5);
  assert.deepEqual(seen, [1, 5]);
});

Deno.test("shared references stay shared", () => {
  const shared = { x: 1 };
  const date = new Date(0);
  const list = [shared];
  const revived = roundTrip({
    a: shared,
    b: shared,
    list,
    again: list,
    map: new Map([[shared, shared]]),
    set: new Set([shared]),
    d1: date,
    d2: date,
  });
  assert.equal(revived.a, revived.b);
  assert.equal(revived.list[0], revived.a);
  assert.equal(revived.list, revived.again);
  assert.equal([...revived.map.keys()][0], revived.a);
  assert.equal(revived.map.get(revived.a), revived.a);
  assert.ok(revived.set.has(revived.a));
  assert.equal(revived.d1, revived.d2);
  assert.notEqual(revived.a, shared, "revived objects are new objects");
});

Deno.test("cycles survive: object, array, Map, Set, mutual, signal", () => {
  type Node = { self?: Node; name: string };
  const obj: Node = { name: "o" };
  obj.self = obj;
  const r1 = roundTrip(obj);
  assert.equal(r1.self, r1);
  assert.equal(r1.name, "o");

  const arr: unknown[] = [1];
  arr.push(arr);
  const r2 = roundTrip(arr);
  assert.equal(r2[1], r2);

  const map = new Map<string, unknown>();
  map.set("me", map);
  const r3 = roundTrip(map);
  assert.equal(r3.get("me"), r3);

  const set = new Set<unknown>();
  set.add(set);
  const r4 = roundTrip(set);
  assert.ok(r4.has(r4));

  const a: Record<string, unknown> = {};
  const b: Record<string, unknown> = { a };
  a.b = b;
  const r5 = roundTrip([a, b]);
  assert.equal(r5[0].b, r5[1]);
  assert.equal(r5[1].a, r5[0]);

  const s = signal<unknown>(null);
  s.value = { s, list: [s] };
  const r6 = roundTrip(s) as Signal<{ s: unknown; list: unknown[] }>;
  assert.ok(r6 instanceof Signal);
  assert.equal(r6.value.s, r6);
  assert.equal(r6.value.list[0], r6);
});

Deno.test("output is safe inside a <script> element", () => {
  const evil = "</script><script>alert(1)</script><!-- \u2028\u2029";
  const text = serialize({ evil, [evil]: evil, re: /<\/script>/ });
  assert.ok(!text.includes("<"), text);
  assert.ok(!text.includes("\u2028") && !text.includes("\u2029"));
  assert.ok(text.includes("\\u003c/script>"));
  assert.ok(text.includes("\\u2028\\u2029"));
  const revived = deserialize(text) as Record<string, unknown>;
  assert.equal(revived.evil, evil);
  assert.equal(revived[evil], evil);
  assert.equal((revived.re as RegExp).source, "<\\/script>");
});

/**
 * Deno's `Object.prototype.__proto__` setter only creates an own property,
 * unlike browsers, where it replaces the prototype. Install a browser-like
 * accessor for the duration of `fn`, so the pollution tests can fail here.
 */
function withBrowserProto(fn: () => void) {
  const original = Object.getOwnPropertyDescriptor(
    Object.prototype,
    "__proto__",
  );
  Object.defineProperty(Object.prototype, "__proto__", {
    configurable: true,
    get(this: object) {
      return Object.getPrototypeOf(this);
    },
    set(this: object, proto: unknown) {
      if (typeof proto === "object") Object.setPrototypeOf(this, proto);
    },
  });
  try {
    fn();
  } finally {
    if (original) {
      Object.defineProperty(Object.prototype, "__proto__", original);
    }
  }
}

Deno.test("the browser-like __proto__ accessor really sets prototypes", () => {
  withBrowserProto(() => {
    const o: Record<string, unknown> = {};
    o["__proto__"] = { inherited: 1 };
    assert.equal(o.inherited, 1);
    assert.ok(!Object.hasOwn(o, "__proto__"));
  });
});

Deno.test("__proto__ keys become own properties and do not pollute", () => {
  withBrowserProto(() => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}');
    assert.ok(Object.hasOwn(value, "__proto__"));
    const revived = roundTrip(value);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(revived), Object.prototype);
    assert.ok(Object.hasOwn(revived, "__proto__"));
    assert.deepEqual(
      Object.getOwnPropertyDescriptor(revived, "__proto__")?.value,
      { polluted: true },
    );
    assert.equal(revived.polluted, undefined);
    assert.equal(revived.ok, 1);

    // A hand-crafted hostile payload.
    const hostile = deserialize(
      '[{"__proto__":1,"a":2},{"polluted":2},3]',
    ) as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(hostile.polluted, undefined);
    assert.equal(Object.getPrototypeOf(hostile), Object.prototype);
    assert.equal(hostile.a, 3);
  });
});

function assertSerializeError(value: unknown, ...patterns: RegExp[]) {
  assert.throws(() => serialize(value), (error: unknown) => {
    assert.ok(
      error instanceof SerializeError,
      `expected SerializeError, got ${error}`,
    );
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("rejects functions and symbols, naming the path", () => {
  assertSerializeError(
    [["Button", { label: "x", onClick() {} }]],
    /^Cannot serialize a function at props\[0\]\[1\]\.onClick: island props must be data/,
  );
  assertSerializeError(
    { "my key": Symbol("s") },
    /Cannot serialize a symbol at props\["my key"\]/,
  );
  assertSerializeError(
    new Map([["k", () => 1]]),
    /function at props\.get\("k"\)/,
  );
  assertSerializeError(
    new Map([[{}, () => 1]]),
    /function at props\.get\(<key #0>\)/,
  );
  assertSerializeError(new Map([[() => 1, 1]]), /function at props<key #0>/);
  assertSerializeError(
    { s: signal({ f: () => 1 }) },
    /function at props\.s\.value\.f/,
  );
  assertSerializeError(new Set([Symbol.iterator]), /symbol at props<item #0>/);
});

Deno.test("rejects class instances, naming the class and path", () => {
  class Point {
    x = 1;
  }
  assertSerializeError({ p: new Point() }, /instance of Point at props\.p/);
  assertSerializeError(
    [new Uint8Array(1)],
    /instance of Uint8Array at props\[0\]/,
  );
  assertSerializeError(
    { boxed: new String("x") },
    /instance of String at props\.boxed/,
  );
  class MyArray extends Array {}
  assertSerializeError({ a: new MyArray() }, /instance of MyArray at props\.a/);
});

Deno.test("rejects JSX elements with a specific message", () => {
  assertSerializeError(
    [["Card", { header: h("div", null) }]],
    /Cannot serialize a JSX element at props\[0\]\[1\]\.header: JSX elements cannot be island props/,
  );
  // A plain object that merely has type/props keys is fine.
  assert.deepEqual(roundTrip({ type: "a", props: {} }), {
    type: "a",
    props: {},
  });
});

Deno.test("malformed payloads throw clear errors", () => {
  const cases: [string, RegExp][] = [
    ["not json", /not valid JSON/],
    ["{}", /non-empty array/],
    ["[]", /non-empty array/],
    ['"x"', /non-empty array/],
    ["-99", /bad index -99/],
    ["[[5]]", /index 5 out of range/],
    ["[[1.5]]", /bad index 1.5/],
    ['[["x"]]', /unknown tag "x"/],
    ["[[[0]]]", /bad index \[0\]/],
    ['[{"a":"b"}]', /bad index "b"/],
    ['[["Date", 1]]', /Date entry 0 needs 1 string/],
    ['[["Date"]]', /Date entry 0 needs 1 string/],
    ['[["RegExp", "a"]]', /RegExp entry 0 needs 2 string/],
    ['[["Map", 0]]', /Map entry 0 has an odd length/],
    ['[["BigInt", "12x"]]', /bad BigInt/],
    ['[["RegExp", "a", "zz"]]', /bad RegExp/],
    ['[["URL", "no scheme"]]', /bad URL/],
    ['[["Signal", 0, 1]]', /Signal entry 0 needs 1 index/],
    ['[["Set", -42]]', /bad index -42/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => deserialize(text), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^Malformed island props payload: /, text);
      assert.match(error.message, pattern, text);
      return true;
    });
  }
});
