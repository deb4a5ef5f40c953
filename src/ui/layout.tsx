/** @jsxImportSource hono/jsx */
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';

export function Layout(props: { title: string; children?: Child; bodyClass?: string | undefined }) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${props.title} · rainops`}</title>
          <link rel="stylesheet" href="/assets/ui.css" />
          <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
          <script src="/assets/ui.js" defer></script>
        </head>
        <body class={props.bodyClass}>
          <header class="top">
            <a class="brand" href="/">
              rainops
            </a>
            <nav>
              <a href="/">Runs</a>
              <a href="/models">Models</a>
              <a href="/datasets">Data sets</a>
              <a href="/monitor">Monitor</a>
              <a href="/predict">Predict</a>
            </nav>
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

export function StatusBadge(props: { status: string }) {
  return <span class={`status status-${props.status}`}>{props.status}</span>;
}

export function ErrorPage(props: { status: number; message: string }) {
  return (
    <Layout title={props.status === 404 ? 'Not found' : 'Error'}>
      <h1>{props.status === 404 ? 'Not found' : 'Something went wrong'}</h1>
      <p class="notice bad">{props.message}</p>
      <p>
        <a href="/">Back to the runs</a>
      </p>
    </Layout>
  );
}

export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M8 1C5 6 3 8.5 3 10.5a5 5 0 0 0 10 0C13 8.5 11 6 8 1z" fill="#1f77b4"/></svg>`;
