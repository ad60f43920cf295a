/**
 * The README's first examples run as written: the JavaScript block is saved as an .mjs file and run
 * by Node (twice: a new database, then the existing one); the TypeScript block is type-checked
 * against the built packages and its compiled output run the same way. `@handlerton/*` resolve from
 * this repository's node_modules (a symlink beside the file), as from an application's.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** The first fenced block of `lang` in the README's "## Use it" section. */
async function example(lang: 'js' | 'ts'): Promise<string> {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Use it\n'));
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (match === null) throw new Error(`README.md "## Use it" has no \`\`\`${lang} block`);
  return match[1]!;
}

/** A temporary project directory whose node_modules is this repository's. */
async function project(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function run(dir: string, file: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

test('the README JavaScript example runs on this Node as plain JavaScript and closes everything', async (t) => {
  const dir = await project(t);
  const source = await example('js');
  t.false(/await using/.test(source), 'no syntax this Node lacks');
  await writeFile(join(dir, 'example.mjs'), source);
  for (const runNumber of [1, 2]) {
    const result = run(dir, 'example.mjs');
    t.is(result.status, 0, result.stderr);
    t.is(result.stderr, '');
    const size = Buffer.byteLength(source);
    t.regex(result.stdout, new RegExp(`^run ${runNumber}: blob \\d+ holds ${size} bytes\\n`));
    t.regex(result.stdout, new RegExp(`\\nobject 0 = \\{"runs":${runNumber}\\}\\n`));
    t.regex(result.stdout, /\(blob\)/);
  }
  // The database was closed: its lock file is gone.
  t.false((await readdir(join(dir, 'data'))).includes('LOCK'));
});

test('the README TypeScript example type-checks against the packages and runs', async (t) => {
  const dir = await project(t);
  const source = await example('ts');
  await writeFile(join(dir, 'example.mts'), source);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    types: ['node'],
    typeRoots: [join(repo, 'node_modules', '@types')],
    skipLibCheck: true,
    outDir: dir,
  };
  const program = ts.createProgram([join(dir, 'example.mts')], options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.deepEqual(diagnostics, []);
  const result = run(dir, 'example.mjs');
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /^run 1: blob \d+ holds \d+ bytes\n$/);
  t.false((await readdir(join(dir, 'data'))).includes('LOCK'));
});

test('npm start (the demo) says where it put its data', async (t) => {
  const dir = await project(t);
  const main = join(repo, 'framework', 'dist', 'src', 'cli', 'main.js');
  const demo = spawnSync(process.execPath, [main, 'demo'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.is(demo.status, 0, demo.stderr);
  t.true(demo.stdout.split('\n').includes(`data: storage and blobs at ${join(dir, '.handlerton-demo')}`), demo.stdout);
  const memory = spawnSync(process.execPath, [main, 'demo', 'memory:'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.regex(memory.stdout, /\ndata: kept in memory only \(nothing is written to disk\)\n/);
});
