import { type Handlers, Head, type PageProps } from "../framework/mod.ts";
import Meeting from "../islands/Meeting.tsx";
import { Logo } from "../components/Logo.tsx";
import { isRoomId } from "../signaling/room_id.ts";

export const handler: Handlers = {
  GET(_req, ctx) {
    return isRoomId(ctx.params.room) ? ctx.render() : ctx.renderNotFound();
  },
};

export default function Room({ params }: PageProps) {
  return (
    <div class="flex h-[100dvh] min-h-[32rem] flex-col px-3 sm:px-4">
      <Head>
        <title>Meeting · Mooz</title>
        <meta name="robots" content="noindex" />
      </Head>
      <header class="flex items-center justify-between py-3">
        <Logo />
      </header>
      <Meeting room={params.room} />
    </div>
  );
}
