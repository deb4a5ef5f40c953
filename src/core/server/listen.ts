import type { AddressInfo, Server } from 'node:net';
import { RainopsError } from '../errors.js';

/** Listens on host:port; the usual failures (port taken, not allowed, no such address) become sentences. */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = `${host}:${port}`;
      if (err.code === 'EADDRINUSE')
        reject(new RainopsError(`serve: ${where} is already in use; stop the other server or pick another --port`));
      else if (err.code === 'EACCES')
        reject(new RainopsError(`serve: not allowed to listen on ${where}; pick a --port above 1023`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new RainopsError(`serve: cannot listen on ${host}: no such address on this machine`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** The http:// URL of a listening address (IPv6 in brackets). */
export function urlOf(address: AddressInfo): string {
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
