/**
 * One identity per mailbox however it is typed: the same email in another case, with surrounding
 * spaces or in another Unicode form (a precomposed "é" or "e" + combining accent) is one account
 * and one rate-limit bucket. Shared by users (storage, uniqueness) and the gateway (limits).
 */
export function normalizeEmail(email: string): string {
  // Lower-casing first: NFC after it also recomposes what case mapping may have decomposed.
  return email.trim().toLowerCase().normalize("NFC");
}
