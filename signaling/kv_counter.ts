/**
 * A `Deno.Kv` that counts what is asked of the real one, for tests and benchmarks that must show
 * how much KV work something does (a sweep pass over 1,000 idle rooms must read none of them).
 * Never used by the server itself.
 */

/** KV calls made through a `countingKv`, and the entries its listings returned. */
export interface KvCounts {
  get: number;
  getMany: number;
  list: number;
  /** Entries returned by all listings together (a listing of every room reads every key). */
  listed: number;
  commit: number;
  set: number;
  delete: number;
  /** Keys read, one per `get`, per key of a `getMany` and per listed entry. */
  keysRead: Deno.KvKey[];
}

/** Counts that start at zero. */
export function zeroCounts(): KvCounts {
  return { get: 0, getMany: 0, list: 0, listed: 0, commit: 0, set: 0, delete: 0, keysRead: [] };
}

/** Calls of all kinds (reads, listings and writes), the figure benchmarks report. */
export function totalCalls(c: KvCounts): number {
  return c.get + c.getMany + c.list + c.commit + c.set + c.delete;
}

/**
 * `kv` with every call counted in `counts` (reset it by assigning fresh counts to its fields, or
 * use a new one). Atomic operations count once, at their commit.
 *
 * @example
 * ```ts
 * const counts = zeroCounts();
 * const store = new RoomStore({ kv: countingKv(kv, counts) });
 * await store.snapshot(room);
 * console.log(counts.list, counts.listed);
 * ```
 */
export function countingKv(kv: Deno.Kv, counts: KvCounts): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      switch (prop) {
        case "get":
          return (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
            counts.get++;
            counts.keysRead.push(key);
            return target.get(key, options);
          };
        case "getMany":
          return (keys: Deno.KvKey[], options?: { consistency?: Deno.KvConsistencyLevel }) => {
            counts.getMany++;
            counts.keysRead.push(...keys);
            return target.getMany(keys, options);
          };
        case "list":
          return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
            counts.list++;
            const inner = target.list(selector, options);
            return (async function* () {
              for await (const entry of inner) {
                counts.listed++;
                counts.keysRead.push(entry.key);
                yield entry;
              }
            })();
          };
        case "set":
          return (key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) => {
            counts.set++;
            return target.set(key, value, options);
          };
        case "delete":
          return (key: Deno.KvKey) => {
            counts.delete++;
            return target.delete(key);
          };
        case "atomic":
          return () => {
            const op = target.atomic();
            const commit = op.commit.bind(op);
            op.commit = () => {
              counts.commit++;
              return commit();
            };
            return op;
          };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * `kv` whose atomic operations that write a member's link report (`["rooms", id, "links", peer]`)
 * call `before(reports)` first, with the number of such keys they set, and commit once it is done:
 * tests count, hold or race those writes.
 *
 * @example
 * ```ts
 * let commits = 0;
 * const store = new RoomStore({ kv: hookLinkCommits(kv, () => void commits++) });
 * ```
 */
export function hookLinkCommits(
  kv: Deno.Kv,
  before: (reports: number) => void | Promise<void>,
): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const set = op.set.bind(op), commit = op.commit.bind(op);
          let reports = 0;
          op.set = (key, value, options) => {
            if (key.includes("links")) reports++;
            return set(key, value, options);
          };
          op.commit = async () => {
            if (reports > 0) await before(reports);
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
