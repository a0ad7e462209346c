import assert from "node:assert/strict";
import { createStyleEngine, scanClassCandidates, spacedArbitraryValues } from "./twind.ts";

/** A minimal page whose body uses `classes`. */
function pageWith(classes: string, text = "hello"): string {
  return `<html><head></head><body><p class="${classes}">${text}</p></body></html>`;
}

/** The CSS selector twind writes for a class (`:`, `[`, `.` and friends escaped). */
function selector(className: string): string {
  return "." + className.replace(/[^A-Za-z0-9_-]/g, (c) => `\\${c}`);
}

function hasRule(css: string, className: string): boolean {
  return css.includes(selector(className) + "{");
}

function assertSubset(expected: string[], actual: string[]) {
  const missing = expected.filter((t) => !actual.includes(t));
  assert.deepEqual(missing, [], `missing from ${JSON.stringify(actual)}`);
}

Deno.test("scanClassCandidates: words of double, single and backtick strings", () => {
  const source = `
    const a = "px-4 py-2";
    const b = 'text-red-500   font-bold';
    const c = \`rounded-xl
      shadow-lg\`;
  `;
  assertSubset(
    ["px-4", "py-2", "text-red-500", "font-bold", "rounded-xl", "shadow-lg"],
    scanClassCandidates(source),
  );
});

Deno.test("scanClassCandidates: template literals with ${} parts", () => {
  const source = "const cls = `flex ${active ? \"bg-sky-500\" : 'bg-slate-700'} gap-2 ${extra}`;";
  const tokens = scanClassCandidates(source);
  assertSubset(["flex", "bg-sky-500", "bg-slate-700", "gap-2"], tokens);
  assert.ok(!tokens.some((t) => /["'`{}]/.test(t)), `quote or brace in ${tokens}`);
});

Deno.test("scanClassCandidates: JSX class attributes, arbitrary values and variants", () => {
  const source = `
    export default function X() {
      return <div class="mt-2 sm:flex-row min-h-[1.25rem] aria-[invalid=true]:ring-rose-400">
        <span className={"text-xs before:content-['x']"} />
      </div>;
    }
  `;
  assertSubset(
    [
      "mt-2",
      "sm:flex-row",
      "min-h-[1.25rem]",
      "aria-[invalid=true]:ring-rose-400",
      "text-xs",
      "before:content-['x']",
    ],
    scanClassCandidates(source),
  );
});

Deno.test("scanClassCandidates: skips code outside strings and non-class text", () => {
  const tokens = scanClassCandidates('const notAString = flexbox; const n = "42 🙂 ";');
  assert.ok(!tokens.includes("flexbox"));
  assert.ok(!tokens.includes("notAString"));
  assert.ok(!tokens.includes("42"), "no letters");
  assert.ok(!tokens.includes("🙂"), "not ASCII");
});

Deno.test("createStyleEngine: CSS has rules for the page's classes only", () => {
  const engine = createStyleEngine({}, {});
  const css = engine.extract(pageWith("p-2 text-red-500 sm:p-4"), []);
  for (const c of ["p-2", "text-red-500", "sm:p-4"]) assert.ok(hasRule(css, c), c);
  assert.ok(!hasRule(css, "p-3"));
  assert.ok(!hasRule(css, "hello"), "text content is not a class");
});

Deno.test("createStyleEngine: a page gets the candidates of its own islands only", () => {
  const engine = createStyleEngine({}, {
    Picker: ["text-purple-700", "not-a-class?", "mooz:name"],
    Other: ["text-teal-600"],
  });
  const html = pageWith("p-2");
  const without = engine.extract(html, []);
  const withPicker = engine.extract(html, ["Picker"]);
  assert.ok(!hasRule(without, "text-purple-700"));
  assert.ok(hasRule(withPicker, "text-purple-700"));
  assert.ok(!hasRule(withPicker, "text-teal-600"), "another island's classes stay out");
  assert.ok(hasRule(engine.extract(html, ["Other", "Picker"]), "text-teal-600"));
  assert.ok(hasRule(without, "p-2") && hasRule(withPicker, "p-2"));
  // Extracting a page must not add its classes to the island sheet for later pages.
  assert.ok(!hasRule(engine.extract(pageWith("m-1"), ["Picker"]), "p-2"));
});

Deno.test("createStyleEngine: responsive rules follow base rules in one sheet", () => {
  // The base class is on the page, the `sm:` class only in an island source.
  const engine = createStyleEngine({}, { Island: ["sm:text-lg"] });
  const css = engine.extract(pageWith("text-sm"), ["Island"]);
  const base = css.indexOf(selector("text-sm") + "{");
  const responsive = css.indexOf(selector("sm:text-lg") + "{");
  assert.ok(base !== -1 && responsive !== -1, css);
  assert.ok(base < responsive, "the sm: rule must come later to win at sm widths");
  assert.ok(css.lastIndexOf("@media (min-width:640px)") > base);
});

Deno.test("createStyleEngine: the theme option is used", () => {
  const engine = createStyleEngine({ theme: { extend: { colors: { brand: "#123456" } } } }, {});
  assert.match(engine.extract(pageWith("text-brand"), []), /\.text-brand\{[^}]*18,52,86/);
});

Deno.test("createStyleEngine: same class set, same CSS", () => {
  const engine = createStyleEngine({}, { Island: ["text-purple-700"] });
  const first = engine.extract(pageWith("p-2 m-1", "one"), []);
  assert.equal(engine.extract(pageWith("p-2 m-1", "two"), []), first);
  // The cache key includes the page's islands and the classes themselves.
  assert.notEqual(engine.extract(pageWith("p-2 m-1"), ["Island"]), first);
  assert.notEqual(engine.extract(pageWith("p-2 m-2"), []), first);
  assert.equal(engine.extract(pageWith("p-2 m-1", "three"), []), first);
});

Deno.test("scanClassCandidates: words inside an arbitrary value's quotes are no classes", () => {
  const tokens = scanClassCandidates(
    `const a = "p-2 after:content-['a hidden b'] m-1"; const b = \`flex \${x ? "font-['Inter var']" : ""}\`;`,
  );
  assertSubset(["p-2", "m-1", "flex"], tokens);
  for (const word of ["hidden", "b']", "after:content-['a", "var']", "font-['Inter"]) {
    assert.ok(!tokens.includes(word), `${word} in ${JSON.stringify(tokens)}`);
  }
  // Well-formed arbitrary values are candidates as before.
  assertSubset(
    ["after:content-['Raise_hand']", "grid-cols-[repeat(2,minmax(0,1fr))]"],
    scanClassCandidates(`"after:content-['Raise_hand'] grid-cols-[repeat(2,minmax(0,1fr))]"`),
  );
});

Deno.test("scanClassCandidates: prose with a bracket that never closes splits at every space", () => {
  assertSubset(
    ["block", "text-sm"],
    scanClassCandidates('const s = "Press [ to block"; "text-sm";'),
  );
});

Deno.test("spacedArbitraryValues: finds classes the browser would split, not prose", () => {
  const source = `
    <p class="mt-2 after:content-['Raise hand'] p-1" />;
    const f = 'font-["Inter var"]';
    const g = \`sm:grid-cols-[1fr 2fr] \${on ? "ring-2" : ""}\`;
    const fine = "after:content-['Raise_hand'] grid-cols-[repeat(2,minmax(0,1fr))]";
    const prose = "Links [in doubt] are shown to hosts";
  `;
  assert.deepEqual(spacedArbitraryValues(source).sort(), [
    "after:content-['Raise hand']",
    'font-["Inter var"]',
    "sm:grid-cols-[1fr 2fr]",
  ]);
});

Deno.test("the project's sources have no class with a space inside an arbitrary value", async () => {
  const root = new URL("../", import.meta.url);
  const found: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith("_test.ts")) {
        for (const cls of spacedArbitraryValues(await Deno.readTextFile(url))) {
          found.push(`${url.pathname.slice(root.pathname.length)}: ${cls}`);
        }
      }
    }
  };
  for (const dir of ["components/", "islands/", "routes/", "features/"]) {
    await walk(new URL(dir, root));
  }
  assert.deepEqual(
    found,
    [],
    "the browser splits these classes at their spaces (words inside become classes of their " +
      "own): write _ for each space inside the brackets, e.g. content-['Raise_hand']",
  );
});

Deno.test("createStyleEngine: single-quoted and unquoted class attributes key the cache too", () => {
  const engine = createStyleEngine({}, {});
  const page = (body: string) => `<html><head></head><body>${body}</body></html>`;
  assert.ok(hasRule(engine.extract(page("<p class='p-2'>x</p>"), []), "p-2"));
  const second = engine.extract(page("<p class='p-3'>x</p>"), []);
  assert.ok(hasRule(second, "p-3") && !hasRule(second, "p-2"), second);
  assert.ok(hasRule(engine.extract(page("<p class=m-4>x</p>"), []), "m-4"));
});
