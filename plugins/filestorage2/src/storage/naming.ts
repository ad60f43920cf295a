/** Segment file names: `seg-<seq:016x>-g<gen>.fs2` (see FORMAT.md, "Files"). */

const SEGMENT_NAME = /^seg-([0-9a-f]{16})-g([0-9]{1,9})\.fs2$/;

/** The file name of segment `seq`, generation `gen`. */
export function segmentFileName(seq: number, gen: number): string {
  return `seg-${seq.toString(16).padStart(16, '0')}-g${gen}.fs2`;
}

/** Parses a segment file name; null when the name is not one. */
export function parseSegmentFileName(name: string): { seq: number; gen: number } | null {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return null;
  const seq = Number.parseInt(match[1]!, 16);
  const gen = Number.parseInt(match[2]!, 10);
  if (!Number.isSafeInteger(seq)) return null;
  return { seq, gen };
}

/** True for the temporary files the engine writes before a rename. */
export function isTemporaryFileName(name: string): boolean {
  return name.endsWith('.tmp');
}
