import net from 'node:net';

export interface StallProxy {
  /** `target` with the proxy's host and port. */
  url: string;
  /** Stops passing bytes either way, closing nothing, as a stalled network does; new connections wait too. */
  stall(): void;
  /** Connections opened while stalled (they wait for resume()). */
  held(): number;
  /** Passes bytes again, those held meanwhile first. */
  resume(): void;
  close(): Promise<void>;
}

/** A TCP proxy to the database of `target` (a postgres:// URL). */
export async function stallProxy(target: string): Promise<StallProxy> {
  const to = new URL(target);
  const sockets = new Set<net.Socket>();
  let waiting: Array<() => void> = [];
  let stalled = false;
  let held = 0;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    if (stalled) s.pause();
  };
  const server = net.createServer((client) => {
    track(client);
    const link = () => {
      if (client.destroyed) return;
      const upstream = net.connect(Number(to.port || 5432), to.hostname);
      track(upstream);
      // Not pipe(): a piped socket resumes itself when the other side drains, stalled or not.
      client.on('data', (d: Buffer) => upstream.write(d));
      upstream.on('data', (d: Buffer) => client.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    if (stalled) {
      held++;
      waiting.push(link);
    } else link();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.href,
    stall() {
      stalled = true;
      for (const s of sockets) s.pause();
    },
    held: () => held,
    resume() {
      stalled = false;
      for (const s of sockets) s.resume();
      for (const link of waiting) link();
      waiting = [];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
