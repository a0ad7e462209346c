/**
 * The server entry. `deno task start` runs it with `deno serve --parallel` (one isolate per
 * core); it also works with plain `deno serve main.ts` and on Deno Deploy.
 */
import config from "./fresh.config.ts";
import manifest from "./fresh.gen.ts";
import { createApp } from "./framework/server.ts";

const app = await createApp(manifest, config);

export default { fetch: app.handler } satisfies Deno.ServeDefaultExport;
