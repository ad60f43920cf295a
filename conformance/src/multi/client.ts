/**
 * A multi-client child (run as `node client.js '<ClientSpec JSON>'`): opens the shared database
 * and plays one role (roles.ts), printing protocol lines with say(). Exits when its role ends, or
 * when the parent's end of stdin closes.
 */
import { openDatabase } from '@handlerton/framework';
import { say } from '../util/say.js';
import type { ClientSpec } from './protocol.js';
import { runRole, voteAndHang } from './roles.js';

async function main(): Promise<void> {
  const specText = process.argv[2];
  if (specText === undefined) throw new Error('usage: client.js <ClientSpec JSON>');
  const spec = JSON.parse(specText) as ClientSpec;
  for (const module of spec.preload) await import(module);
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  if (spec.role.kind === 'vote-and-hang') return voteAndHang(spec.config, spec.role.oids, spec.role.value);
  const db = await openDatabase(spec.config);
  try {
    await runRole(spec.role, db);
  } finally {
    await db.close();
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  void say(`FAIL ${message.replace(/\n/g, ' ')}`).finally(() => process.exit(1));
});
