// Starts an Express app's HTTP server, and tells a server that could not start (a port taken) from one that did.
import type { Server } from 'node:http';
import type express from 'express';

/** Resolves once the server listens; rejects with the reason when it cannot (EADDRINUSE, EACCES, …). */
export function listen(handler: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Express 5 calls the callback with the error when listening fails, as well as once it listens: taken for
    // success, a port in use was announced as served, and the process ended with nothing listening.
    const server = handler.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

/** What a person can do about a server that could not start, for the failures a setting fixes; null for any other. */
export function listenFailure(err: unknown, host: string, port: number): string | null {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EADDRINUSE') return `Cannot listen on ${where}: another program uses that port. Stop it, or set PORT to a free port.`;
  if (code === 'EACCES') return `Cannot listen on ${where}: this user may not open that port. Set PORT to one above 1023.`;
  if (code === 'EADDRNOTAVAIL') return `Cannot listen on ${where}: this machine has no such address. Set HOST to one of its addresses, or leave it unset.`;
  return null;
}
