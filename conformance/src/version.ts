/** The conformance suite's version; reports carry it so results can be compared across releases. */
export const SUITE_VERSION = '0.1.0';
