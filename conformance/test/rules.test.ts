/** Every case cites the contract text it checks, and every citation names a documented rule in framework/src/contracts (issue 16). */
import test from 'ava';
import { CATALOGUE } from '../src/index.js';
import { citationProblem, readContract } from './rule-citations.js';

test('every case cites at least one contract rule', (t) => {
  const uncited = CATALOGUE.filter((c) => c.rule.length === 0).map((c) => c.id);
  t.deepEqual(uncited, [], `cases without a rule: ${uncited.join(', ')}`);
});

test('every cited rule is documented contract text: the file exists, the member exists, a doc comment states it', (t) => {
  const problems = CATALOGUE.flatMap((c) =>
    c.rule.flatMap((citation) => {
      const problem = citationProblem(citation);
      return problem === undefined ? [] : [`${c.id} cites ${citation}: ${problem}`];
    }),
  );
  t.deepEqual(problems, []);
  t.true(CATALOGUE.some((c) => c.rule.length > 0), 'the catalogue has citations to check');
});

test('a case does not cite the same rule twice', (t) => {
  const repeated = CATALOGUE.filter((c) => new Set(c.rule).size !== c.rule.length).map((c) => c.id);
  t.deepEqual(repeated, []);
});

test('the contract sources are found', (t) => {
  for (const file of ['storage.ts', 'blob-handlerton.ts', 'database.ts', 'capabilities.ts', 'records.ts']) {
    t.not(readContract(file), undefined, file);
  }
});

/** A small contract file for the checker's own tests. */
const SAMPLE = `/**
 * The sample contract.
 *
 * Invariants: none worth stating.
 */
import type { X } from './x.js';

/** A documented interface. */
export interface Thing {
  /** Documented property. */
  readonly size: number;
  readonly bare: number;
  /**
   * Documented method,
   * over two lines.
   */
  run(x: number): void;
  /** Optional method. */
  maybe?(): void;
  /** Optional property. */
  opt?: string;
}

export interface Undocumented {
  /** Has a doc. */
  inner(): void;
}

/** A documented class. */
export class Box {
  /** Static parser. */
  static parse(text: string): Box {
    return new Box();
  }
}

/** A documented union. */
export type Mode =
  /** The first mode. */
  | 'first'
  | 'second';

/* Not a doc comment. */
export function plain(): void {}
`;

const sampleRead = (file: string): string | undefined => (file === 'sample.ts' ? SAMPLE : undefined);

test('the citation checker accepts documented members, headers and declarations', (t) => {
  for (const ok of ['sample.ts#invariants', 'sample.ts#Thing', 'sample.ts#Thing.size', 'sample.ts#Thing.run', 'sample.ts#Thing.maybe', 'sample.ts#Thing.opt', 'sample.ts#Undocumented.inner', 'sample.ts#Box', 'sample.ts#Box.parse', 'sample.ts#Mode', 'sample.ts#Mode.first']) {
    t.is(citationProblem(ok, sampleRead), undefined, ok);
  }
});

test('the citation checker names what is wrong', (t) => {
  t.regex(citationProblem('missing.ts#Thing', sampleRead)!, /no contract file missing\.ts/);
  t.regex(citationProblem('sample.ts#Nothing.size', sampleRead)!, /declares no Nothing/);
  t.regex(citationProblem('sample.ts#Thing.absent', sampleRead)!, /no member absent/);
  t.regex(citationProblem('sample.ts#Thing.bare', sampleRead)!, /Thing\.bare has no doc comment/);
  t.regex(citationProblem('sample.ts#Undocumented', sampleRead)!, /Undocumented has no doc comment/);
  t.regex(citationProblem('sample.ts#plain', sampleRead)!, /plain has no doc comment/);
  t.regex(citationProblem('sample.ts#Box.inner', sampleRead)!, /Box has no member inner/, 'a member of another declaration does not count');
  t.regex(citationProblem('sample.ts#Thing.inner', sampleRead)!, /Thing has no member inner/, 'nor one of the next declaration');
  t.regex(citationProblem('sample.ts#Mode.second', sampleRead)!, /Mode\.second has no doc comment/);
  t.regex(citationProblem('sample.ts#Mode.parse', sampleRead)!, /Mode has no member parse/);
  t.regex(citationProblem('storage tpcBegin', sampleRead)!, /not of the form/);
  t.regex(citationProblem('sample.ts#invariants', () => '/** Doc of the first export. */\nexport const A = 1;\n')!, /no header comment/);
});
