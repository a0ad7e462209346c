/**
 * Island props serializer.
 *
 * The server writes the props of every island on a page into ONE
 * `<script type="application/json">` payload and the browser revives it.
 * Plain JSON cannot express shared references, cycles, `undefined`, Dates,
 * Maps or signals, so (following the idea of the `devalue` library) the
 * payload is a flat JSON array of entries addressed by index:
 *
 * - entry 0 is the root; primitives are stored as themselves;
 * - arrays are `[i, j, ...]` and objects `{ key: i }`, holding the indices of
 *   their members, so a value referenced twice is stored once and cycles are
 *   just indices pointing back;
 * - other types are tagged arrays whose first item is a string:
 *   `["Date", iso]`, `["Map", k1, v1, ...]`, `["Set", i, ...]`,
 *   `["Signal", i]`, `["BigInt", "123"]`, `["RegExp", source, flags]`,
 *   `["URL", href]`;
 * - values JSON cannot hold are negative sentinel indices (see below). A root
 *   that is itself a sentinel is written as the bare number, e.g. `-1`.
 */
import { Signal, signal } from "@preact/signals";

/** Thrown by `serialize` for values that cannot be island props. */
export class SerializeError extends Error {
  override name = "SerializeError";
}

const UNDEFINED = -1;
const NAN = -2;
const POSITIVE_INFINITY = -3;
const NEGATIVE_INFINITY = -4;
const NEGATIVE_ZERO = -5;

const SENTINELS = new Map<number, unknown>([
  [UNDEFINED, undefined],
  [NAN, NaN],
  [POSITIVE_INFINITY, Infinity],
  [NEGATIVE_INFINITY, -Infinity],
  [NEGATIVE_ZERO, -0],
]);

/** Characters that could end a `<script>` element or break older JS parsers. */
const UNSAFE_CHARS = /[<\u2028\u2029]/g;

export function serialize(value: unknown): string {
  const entries: unknown[] = [];
  // Value -> entry index. Keyed by identity for objects and by value for
  // primitives, which also deduplicates repeated strings.
  const indices = new Map<unknown, number>();

  function flatten(v: unknown, path: string): number {
    if (v === undefined) return UNDEFINED;
    if (typeof v === "number") {
      if (Number.isNaN(v)) return NAN;
      if (v === Infinity) return POSITIVE_INFINITY;
      if (v === -Infinity) return NEGATIVE_INFINITY;
      // Checked before the Map lookup: Map keys treat -0 and 0 as equal.
      if (Object.is(v, -0)) return NEGATIVE_ZERO;
    }
    const known = indices.get(v);
    if (known !== undefined) return known;
    // Reserve the index before visiting children so cycles can point to it.
    const index = entries.push(null) - 1;
    indices.set(v, index);
    entries[index] = encode(v, path);
    return index;
  }

  function encode(v: unknown, path: string): unknown {
    if (typeof v === "function" || typeof v === "symbol") {
      throw new SerializeError(
        `Cannot serialize a ${typeof v} at ${path}: island props must be data (pass a signal or plain values instead)`,
      );
    }
    if (typeof v === "bigint") return ["BigInt", v.toString()];
    if (typeof v !== "object" || v === null) return v;

    // peek() reads without subscribing, so serializing inside an effect or
    // computed does not create a dependency. A computed is a Signal too.
    if (v instanceof Signal) {
      return ["Signal", flatten(v.peek(), `${path}.value`)];
    }
    if (v instanceof Date) {
      // toISOString() throws on invalid dates; "" revives as Invalid Date.
      return ["Date", Number.isNaN(v.getTime()) ? "" : v.toISOString()];
    }
    if (v instanceof RegExp) return ["RegExp", v.source, v.flags];
    if (v instanceof URL) return ["URL", v.href];
    if (v instanceof Map) {
      const out: unknown[] = ["Map"];
      let i = 0;
      for (const [key, item] of v) {
        // Name string keys (the common case) so error paths are readable.
        const label = typeof key === "string" ? JSON.stringify(key) : `<key #${i}>`;
        out.push(flatten(key, `${path}<key #${i++}>`));
        out.push(flatten(item, `${path}.get(${label})`));
      }
      return out;
    }
    if (v instanceof Set) {
      const out: unknown[] = ["Set"];
      let i = 0;
      for (const item of v) out.push(flatten(item, `${path}<item #${i++}>`));
      return out;
    }

    const proto = Object.getPrototypeOf(v);
    if (Array.isArray(v) && proto === Array.prototype) {
      // Index loop (not map/forEach) so holes in sparse arrays are visited
      // and become undefined instead of disappearing.
      const out: number[] = [];
      for (let i = 0; i < v.length; i++) {
        out.push(flatten(v[i], `${path}[${i}]`));
      }
      return out;
    }
    // VNodes look like plain objects (Preact 11 even gives them
    // Object.prototype), so detect them by shape before the prototype check.
    if (isVNode(v)) {
      throw new SerializeError(
        `Cannot serialize a JSX element at ${path}: JSX elements cannot be island props`,
      );
    }
    if (proto !== Object.prototype && proto !== null) {
      const name = typeof proto.constructor === "function" && proto.constructor.name
        ? proto.constructor.name
        : "a class";
      throw new SerializeError(
        `Cannot serialize an instance of ${name} at ${path}: island props must be plain objects, arrays, Date, Map, Set, RegExp, URL, BigInt or signals`,
      );
    }
    // Null prototype, so an own "__proto__" key is stored as a normal key
    // instead of invoking the inherited __proto__ setter.
    const out: Record<string, number> = Object.create(null);
    for (const [key, item] of Object.entries(v)) {
      out[key] = flatten(item, path + propertyPath(key));
    }
    return out;
  }

  const root = flatten(value, "props");
  const json = root < 0 ? String(root) : JSON.stringify(entries);
  // `<` only ever occurs inside JSON strings, where \u003c means the same
  // thing, so `</script>` and `<!--` can never appear in the HTML.
  return json.replace(
    UNSAFE_CHARS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export function deserialize(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed("not valid JSON");
  }
  if (typeof parsed === "number") return sentinel(parsed);
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw malformed("expected a non-empty array of entries");
  }
  const entries: unknown[] = parsed;
  const revived = new Map<number, unknown>();

  // Every container is registered in `revived` BEFORE its members are
  // hydrated, so indices pointing back (cycles) find the object in progress.
  function hydrate(index: unknown): unknown {
    if (typeof index !== "number" || !Number.isInteger(index)) {
      throw malformed(`bad index ${JSON.stringify(index)}`);
    }
    if (index < 0) return sentinel(index);
    if (index >= entries.length) throw malformed(`index ${index} out of range`);
    if (revived.has(index)) return revived.get(index);

    const entry = entries[index];
    if (typeof entry !== "object" || entry === null) {
      revived.set(index, entry);
      return entry;
    }
    if (Array.isArray(entry)) {
      if (typeof entry[0] === "string") return hydrateTagged(index, entry);
      const array: unknown[] = [];
      revived.set(index, array);
      for (const item of entry) array.push(hydrate(item));
      return array;
    }
    const object = {};
    revived.set(index, object);
    for (const [key, item] of Object.entries(entry)) {
      // defineProperty, not assignment: `object.__proto__ = x` would replace
      // the prototype (prototype pollution); this makes an own property.
      Object.defineProperty(object, key, {
        value: hydrate(item),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
    return object;
  }

  function hydrateTagged(index: number, [tag, ...args]: unknown[]): unknown {
    const keep = <T>(value: T): T => (revived.set(index, value), value);
    // Leaf tags carry only strings; check their count and type up front.
    const strings = (count: number): string[] => {
      if (args.length !== count || args.some((a) => typeof a !== "string")) {
        throw malformed(`${tag} entry ${index} needs ${count} string(s)`);
      }
      return args as string[];
    };

    switch (tag) {
      case "Date":
        return keep(new Date(strings(1)[0]));
      case "BigInt": {
        const [digits] = strings(1);
        if (!/^-?\d+$/.test(digits)) throw malformed(`bad BigInt ${digits}`);
        return keep(BigInt(digits));
      }
      case "RegExp": {
        const [source, flags] = strings(2);
        try {
          return keep(new RegExp(source, flags));
        } catch {
          throw malformed(`bad RegExp /${source}/${flags}`);
        }
      }
      case "URL": {
        const [href] = strings(1);
        if (!URL.canParse(href)) throw malformed(`bad URL ${href}`);
        return keep(new URL(href));
      }
      case "Map": {
        if (args.length % 2 !== 0) {
          throw malformed(`Map entry ${index} has an odd length`);
        }
        const map = keep(new Map<unknown, unknown>());
        for (let i = 0; i < args.length; i += 2) {
          map.set(hydrate(args[i]), hydrate(args[i + 1]));
        }
        return map;
      }
      case "Set": {
        const set = keep(new Set<unknown>());
        for (const item of args) set.add(hydrate(item));
        return set;
      }
      case "Signal": {
        if (args.length !== 1) {
          throw malformed(`Signal entry ${index} needs 1 index`);
        }
        // Create first, fill after: the value may contain this very signal.
        const s = keep(signal<unknown>(undefined));
        s.value = hydrate(args[0]);
        return s;
      }
      default:
        throw malformed(`unknown tag ${JSON.stringify(tag)} in entry ${index}`);
    }
  }

  return hydrate(0);
}

function sentinel(n: number): unknown {
  if (!SENTINELS.has(n)) throw malformed(`bad index ${n}`);
  return SENTINELS.get(n);
}

function malformed(reason: string): Error {
  return new Error(`Malformed island props payload: ${reason}`);
}

/** Preact VNodes (10 and 11) carry an own `__v` id and a non-function `constructor`. */
function isVNode(v: object): boolean {
  if (!("type" in v && "props" in v)) return false;
  return Object.hasOwn(v, "__v") ||
    (Object.hasOwn(v, "constructor") && typeof v.constructor !== "function");
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
