import test from 'ava';
import { Writable } from 'node:stream';
import { startPhaseProgress, startProgress, type ProgressStream } from '../src/cli/progress.js';

/** A stream that records what is written, claiming to be a terminal or not. */
function recorder(isTTY: boolean): { stream: ProgressStream; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    { isTTY, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
  );
  return { stream, text: () => chunks.join('') };
}

test('progress draws on a terminal: label, counts and total', (t) => {
  const { stream, text } = recorder(true);
  const progress = startProgress('copy', 'transactions', { stream, total: 10 });
  progress.update(4);
  progress.stop();
  t.regex(text(), /copy \[.*\] 40% 4\/10 transactions/);
});

test('progress writes nothing when the stream is not a terminal, or when quiet (--json)', (t) => {
  for (const [isTTY, quiet] of [[false, false], [true, true]] as const) {
    const { stream, text } = recorder(isTTY);
    const progress = startProgress('verify', 'transactions', { stream, quiet });
    progress.update(3);
    progress.stop();
    t.is(text(), '', `isTTY ${isTTY}, quiet ${quiet}`);
  }
});

test('a phase display shows the phase, the count, its unit and the elapsed time on a terminal; nothing otherwise', (t) => {
  const { stream, text } = recorder(true);
  const progress = startPhaseProgress('gc', { stream });
  progress.update('mark', 1200, 'objects loaded');
  progress.stop();
  t.regex(text(), /gc: mark 1200 objects loaded, \d+s/);
  for (const [isTTY, quiet] of [[false, false], [true, true]] as const) {
    const quietOne = recorder(isTTY);
    const p = startPhaseProgress('pack', { stream: quietOne.stream, quiet });
    p.update('packing records', 3, 'blob references released');
    p.stop();
    t.is(quietOne.text(), '', `isTTY ${isTTY}, quiet ${quiet}`);
  }
});
