/**
 * Checks the `rule` citations of the catalogue against the contract sources (framework/src/contracts):
 * `<file>#invariants` needs the file's header comment, `<file>#Name` a documented top-level
 * declaration, `<file>#Name.member` a documented member of that interface or class (or a documented
 * `| 'member'` of that union type). Plain text matching on the formatted sources: members are
 * indented by two spaces, and a declaration ends at the next line that starts in column 0.
 */
import { readFileSync } from 'node:fs';

/** The contract sources, read from the repository (the package ships only dist). */
export const CONTRACTS_DIR = new URL('../../../framework/src/contracts/', import.meta.url);

/** The source of contract file `file`, or undefined when there is none. */
export function readContract(file: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*\.ts$/.test(file)) return undefined;
  try {
    return readFileSync(new URL(file, CONTRACTS_DIR), 'utf8');
  } catch {
    return undefined;
  }
}

/** True when the lines right before `index` close a `/** ... *\/` doc comment. */
function documentedAt(lines: readonly string[], index: number): boolean {
  let end = index - 1;
  while (end >= 0 && lines[end]!.trim() === '') end -= 1;
  if (end < 0 || !lines[end]!.trim().endsWith('*/')) return false;
  for (let i = end; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line.startsWith('/**')) return true;
    if (i < end && (line.endsWith('*/') || !(line.startsWith('*') || line === ''))) return false;
  }
  return false;
}

/** The line index of top-level declaration `name`, or -1. */
function declarationOf(lines: readonly string[], name: string): number {
  const pattern = new RegExp(`^export (?:declare )?(?:abstract )?(?:interface|class|type|function|async function|const|enum) ${name}\\b`);
  return lines.findIndex((line) => pattern.test(line));
}

/** The file's header comment has rules: it opens the file and is followed by a blank line or an import. */
function hasHeader(source: string): boolean {
  const match = /^\s*\/\*\*[\s\S]*?\*\/\n(\n|import )/.exec(source);
  return match !== null;
}

/** What is wrong with `citation` (`storage.ts#Storage.tpcBegin`), or undefined when it names documented contract text. */
export function citationProblem(citation: string, read: (file: string) => string | undefined = readContract): string | undefined {
  const match = /^([^#]+)#([A-Za-z_$][\w$]*)(?:\.([A-Za-z_$][\w$]*))?$/.exec(citation);
  if (match === null) return `not of the form <file>#<Member> or <file>#<Interface.member>`;
  const [, file, name, member] = match as unknown as [string, string, string, string | undefined];
  const source = read(file);
  if (source === undefined) return `no contract file ${file} under framework/src/contracts`;
  if (name === 'invariants' && member === undefined) return hasHeader(source) ? undefined : `${file} has no header comment`;
  const lines = source.split('\n');
  const declared = declarationOf(lines, name);
  if (declared < 0) return `${file} declares no ${name}`;
  if (member === undefined) return documentedAt(lines, declared) ? undefined : `${name} has no doc comment in ${file}`;
  const end = lines.findIndex((line, i) => i > declared && /^\S/.test(line));
  const pattern = new RegExp(`^  (?:\\| '${member}'|(?:(?:readonly|static|get|async|abstract|override) )*${member}\\??[(:<])`);
  for (let i = declared + 1; i < (end < 0 ? lines.length : end); i++) {
    if (pattern.test(lines[i]!)) return documentedAt(lines, i) ? undefined : `${name}.${member} has no doc comment in ${file}`;
  }
  return `${name} has no member ${member} in ${file}`;
}
