/**
 * `handlerton serve <db>`: the HTTP blob gateway on its own server until SIGINT or SIGTERM, then a
 * graceful shutdown (stop accepting, let transfers finish for --grace, close the database).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../contracts/errors.js';
import { serveBlobs } from '../../http/serve.js';
import { openNamedDatabase } from '../default-database.js';
import type { Output } from './history.js';

/** Parses a non-negative integer option; InvalidArgumentError naming it. */
function integerOption(text: string, name: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > max) throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}, got "${text}"`);
  return value;
}

/** Registers `serve`. */
export function registerServeCommand(program: Command, output: Output, log: (line: string) => void): void {
  program
    .command('serve')
    .description('serve blobs over HTTP by locator: GET/HEAD /blobs/<locator>, POST /blobs, PUT /blobs/<write-locator> (see docs/http-gateway.md)')
    .argument('[config]', 'engine config (default: $HANDLERTON_DB, then handlerton.json)')
    .option('--port <port>', 'TCP port (0: a free port the system picks)', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--max-upload <bytes>', 'largest request body, in bytes', String(1024 ** 3))
    .option('--read-only', 'refuse uploads (405)')
    .option('--grace <ms>', 'at shutdown, how long transfers in flight may finish', '10000')
    .action(async (named: string | undefined, options: { port: string; host: string; maxUpload: string; readOnly?: boolean; grace: string }) => {
      const port = integerOption(options.port, '--port', 65535);
      const maxUploadBytes = integerOption(options.maxUpload, '--max-upload', Number.MAX_SAFE_INTEGER);
      const graceMs = integerOption(options.grace, '--grace', 3_600_000);
      const { db } = await openNamedDatabase(named, options.readOnly === true ? 'inspect' : 'write');
      try {
        const server = await serveBlobs(db, {
          port,
          host: options.host,
          graceMs,
          maxUploadBytes,
          allowUploads: options.readOnly !== true,
          onError: (error) => log(`handlerton serve: ${error instanceof Error ? error.message : String(error)}`),
        });
        output({ json: { url: server.url, port: server.port }, lines: [`serving blobs on ${server.url}/blobs/ (Ctrl-C stops)`] });
        const signal = await new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        log(`handlerton serve: ${signal}: finishing transfers in flight`);
        await server.close();
      } finally {
        await db.close();
      }
    });
}
