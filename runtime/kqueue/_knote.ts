/**
 * The knote ({@linkcode Knote}) and its owner's interface now live in
 * `_filter.ts`, beside the filter operations a knote carries (one module,
 * no type-only import cycle). This module only re-exports them, for code
 * written against the old location (branches merged after the move);
 * import them from `_filter.ts`.
 *
 * @module
 */

export { Knote, type KnoteOwner } from "./_filter.ts";
