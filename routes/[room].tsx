import { PageShell } from "../components/PageShell.tsx";
import { type Handlers, Head, type PageProps } from "../framework/mod.ts";
import PreJoin from "../islands/PreJoin.tsx";
import { isRoomId } from "../signaling/room_id.ts";

export const handler: Handlers = {
  GET(_req, ctx) {
    return isRoomId(ctx.params.room) ? ctx.render() : ctx.renderNotFound();
  },
};

export default function Room({ params }: PageProps) {
  return (
    <PageShell>
      <Head>
        <title>Join meeting · Mooz</title>
        <meta name="robots" content="noindex" />
      </Head>
      <PreJoin room={params.room} />
    </PageShell>
  );
}
