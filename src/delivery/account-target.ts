/** An account has one delivery target per alert version: the post (or thread) itself. */
export const ACCOUNT_TARGET = 'post';

/** Deleting original part `index` (a retraction with deleteOriginals). */
export const deletionTarget = (index: number): string => `delete-${index}`;
