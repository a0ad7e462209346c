import type { AppProps } from "$fresh/server.ts";

export default function App({ Component }: AppProps) {
  return (
    <html lang="en" class="bg-slate-950">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="dark" />
        <meta name="theme-color" content="#020617" />
        <meta
          name="description"
          content="Mooz: free, open-source video meetings that go straight from browser to browser."
        />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
      </head>
      <body class="min-h-screen bg-slate-950 text-slate-100 font-sans antialiased">
        <Component />
      </body>
    </html>
  );
}
