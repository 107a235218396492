/**
 * Parameter schemas shared by every list action: bounded pages, so no client value (offset=1e21)
 * can reach the database as something it cannot parse.
 */
export const MAX_PAGE_SIZE = 100;
export const MAX_OFFSET = 1_000_000;

export const pageParams = {
  limit: { type: "number", integer: true, min: 1, max: MAX_PAGE_SIZE, optional: true, convert: true },
  offset: { type: "number", integer: true, min: 0, max: MAX_OFFSET, optional: true, convert: true },
} as const;
