import net from 'node:net';

/** What became of every request the load sent. */
export interface LoadOutcome {
  /** Requests answered, by status. */
  answered: Map<number, number>;
  /** Answers that asked the client to close the connection. */
  closeAnswers: number;
  /** New connections the server refused (it had stopped accepting). */
  refused: number;
  /** Requests written on an established connection that got no answer: reset or closed under them. */
  dropped: string[];
}

export interface KeepAliveLoad {
  /** Resolves once every connection has sent at least `n` requests. */
  warm(n: number): Promise<void>;
  /** Resolves when every connection has stopped: refused, or its server went away. */
  done: Promise<LoadOutcome>;
  /** Stops sending; resolves like `done`. */
  stop(): Promise<LoadOutcome>;
}

interface Parsed {
  status: number;
  close: boolean;
  rest: Buffer;
}

/** One response from the front of `buf`, or null while it is incomplete (Content-Length bodies only). */
function parseResponse(buf: Buffer): Parsed | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  if (buf.length < end + 4 + length) return null;
  return {
    status: Number(head.slice(9, 12)),
    close: /\r\nconnection:\s*close/i.test(head),
    rest: buf.subarray(end + 4 + length),
  };
}

/**
 * `connections` clients, each sending `request` over a keep-alive connection as fast as answers come.
 * An answer with `Connection: close` makes the client open a new connection; a refused one ends it.
 */
export function keepAliveLoad(port: number, request: string | Buffer, connections: number): KeepAliveLoad {
  const outcome: LoadOutcome = { answered: new Map(), closeAnswers: 0, refused: 0, dropped: [] };
  const sent = new Array<number>(connections).fill(0);
  let stopping = false;
  let warmWaiters: Array<{ n: number; resolve: () => void }> = [];
  const checkWarm = () => {
    warmWaiters = warmWaiters.filter((w) => {
      if (sent.every((s) => s >= w.n)) w.resolve();
      return !sent.every((s) => s >= w.n);
    });
  };

  const client = (k: number) =>
    new Promise<void>((resolve) => {
      const connect = () => {
        if (stopping) return resolve();
        const socket = net.connect(port, '127.0.0.1');
        let buf: Buffer = Buffer.alloc(0);
        let outstanding = false;
        let connected = false;
        let onThis = 0;
        const send = () => {
          if (stopping) {
            socket.end();
            return;
          }
          outstanding = true;
          onThis++;
          sent[k]!++;
          checkWarm();
          socket.write(request);
        };
        socket.on('connect', () => {
          connected = true;
          send();
        });
        socket.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const r = parseResponse(buf);
          if (!r) return;
          buf = r.rest;
          outstanding = false;
          outcome.answered.set(r.status, (outcome.answered.get(r.status) ?? 0) + 1);
          if (r.close) {
            outcome.closeAnswers++;
            socket.end();
          } else send();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => {
          if (!connected && err.code === 'ECONNREFUSED') outcome.refused++;
          else if (outstanding)
            outcome.dropped.push(
              `${err.code ?? err.message} on client ${k}'s request ${sent[k]} (${onThis} on this connection)`,
            );
          outstanding = false;
        });
        socket.on('close', () => {
          if (outstanding)
            outcome.dropped.push(
              `closed without an answer on client ${k}'s request ${sent[k]} (${onThis} on this connection)`,
            );
          if (!connected) return resolve();
          // The server closed after its answer (Connection: close): come back on a new connection.
          setImmediate(connect);
        });
      };
      connect();
    });

  const done = Promise.all(Array.from({ length: connections }, (_, k) => client(k))).then(() => outcome);
  return {
    warm: (n) =>
      new Promise<void>((resolve) => {
        warmWaiters.push({ n, resolve });
        checkWarm();
      }),
    done,
    stop: () => {
      stopping = true;
      return done;
    },
  };
}
