// Loopback servers for the tRPC tests: one way to listen and close, and one bridge from node:http to the
// fetch adapter (the standalone harness, the traceresponse tests and the real-stacks fixture all need it).
// Erasable TypeScript only: test/fixtures/real-stacks.mjs imports this file straight into Node.
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server listening on loopback, and how to stop it (open keep-alive connections included). */
export interface Listening {
  url: string;
  close: () => Promise<void>;
}

/** Listens on a free loopback port; `close` drops open connections first so it never waits on a keep-alive. */
export async function listenOnLoopback(server: http.Server): Promise<Listening> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The node:http request as a Fetch `Request`, its body streamed (what the fetch adapter takes). */
export function toFetchRequest(req: http.IncomingMessage): Request {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers: req.headers as Record<string, string>,
    body: hasBody ? (req as unknown as ReadableStream) : undefined,
    duplex: 'half',
  } as RequestInit);
}

/** Writes a Fetch `Response` to the node:http response, chunk by chunk (a streamed batch stays streamed). */
export async function writeFetchResponse(res: http.ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  }
  res.end();
}

/** A node:http request handler that answers through `handle`, as a fetch-adapter app does. */
export function fetchAdapterHandler(handle: (request: Request) => Promise<Response>) {
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    await writeFetchResponse(res, await handle(toFetchRequest(req)));
  };
}
